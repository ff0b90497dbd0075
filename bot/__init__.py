"""The collections assistant's core: models, services, gateway and web blueprints."""
