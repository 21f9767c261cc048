"""Certificates for the webhook's TLS endpoint.

``generate`` makes a self-signed CA and a serving certificate with pure ``cryptography``;
``ensure`` keeps them in a cluster Secret and the CA in the webhook configuration's
``caBundle`` (written by ``cabundle`` with server-side apply), through ``kube`` (the API
client and its errors); ``commands`` adds ``certs
generate`` and ``certs ensure`` to the CLI. Nothing is imported here: ``serve`` loads none
of it.
"""
