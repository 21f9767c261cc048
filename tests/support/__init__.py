"""Shared test support: real kubectl, Kubernetes' schemas and validation rules, review builders."""
