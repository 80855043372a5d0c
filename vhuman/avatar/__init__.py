"""Avatar model, ARKit names, loaders, the mixer and the default avatars."""
