"""The profiles service: volunteers, host organisations, opportunities and the host node's slot authority."""
