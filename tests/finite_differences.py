"""Central finite differences shared by the model tests (step h * max(1, |theta_j|))."""
import numpy as np


def fd_jacobian(fun, theta, h=1e-5):
    """Columns (fun(theta + e_j) - fun(theta - e_j)) / (2 e_j)."""
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h * max(1.0, abs(theta[j]))
        cols.append((fun(theta + e) - fun(theta - e)) / (2 * e[j]))
    return np.column_stack(cols)


def fd_gradient(f, theta, h=1e-5):
    """Gradient of a scalar function f."""
    return fd_jacobian(lambda t: np.atleast_1d(f(t)), theta, h)[0]
