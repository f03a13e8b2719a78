"""What generated modules import. Never imports the compiler; each backend's runtime
imports only its own framework (numpy_rt: numpy; jax_rt: jax and optax)."""
