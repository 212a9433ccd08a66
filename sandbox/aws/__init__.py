"""Overlays on moto's in-process models, where moto falls short (ECS deployments, ELBv2 health, Amplify).

Empty for now: every AWS call goes to moto's own WSGI application.
"""
