"""JAX functions for the gate's tests."""

import jax.numpy as jnp


def softplus(x: jnp.ndarray) -> jnp.ndarray:
    """log(1 + e^x), written with the double-where trick: x + log1p(e^-x) for x > 0, log1p(e^x)
    otherwise, each branch computed on inputs safe for it. Exact to an ULP everywhere, gradient
    sigmoid(x) (1/2 at x = 0); subnormal results come back flushed on XLA's CPU."""
    positive = x > 0
    above = jnp.where(positive, x, 0.0)
    below = jnp.where(positive, 0.0, x)
    return jnp.where(positive, above + jnp.log1p(jnp.exp(-above)), jnp.log1p(jnp.exp(below)))
