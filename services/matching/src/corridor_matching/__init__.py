"""The matching service: read models, skills taxonomy, explainable scoring, assignment and the home side of the placement saga."""
