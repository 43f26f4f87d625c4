"""The reporting service: corridor indicators with small-count suppression, dashboard and operator metrics."""
