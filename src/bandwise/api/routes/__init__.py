"""HTTP routes, thin: parse, call one service, render."""
