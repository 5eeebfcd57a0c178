"""Code both Lambda functions need: errors, secrets, Postgres connections, S3 JSON objects.

Shipped as the `CommonLayer` in template.yaml, so it exists once, not copied per function.
"""
