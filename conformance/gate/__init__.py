"""The gate for users' own loss functions: the corpus run on a custom loss, with diagnoses."""
