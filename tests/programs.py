"""Small programs shared by several test files."""

MINIMAL_OPTIMIZER = '''\
optimizer sgd_plain:
    """Plain SGD."""
    hyper lr: real = 0.01 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g
    converges heuristic
'''
