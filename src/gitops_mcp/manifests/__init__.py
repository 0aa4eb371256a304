"""Provider-neutral manifest handling: YAML rendering and loading, validation, writing."""
