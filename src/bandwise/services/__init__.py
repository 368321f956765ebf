"""The rules of the product: limits, submissions, history. Services own no connections."""
