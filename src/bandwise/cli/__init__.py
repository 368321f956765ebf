"""The `bandwise` command line: thin commands over the library."""
