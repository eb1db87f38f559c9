"""Shared sympy symbols, declared once with their assumptions.

Names follow the papers: ``s`` the state (loss), ``s_star`` its floor S*, ``mu`` and ``sigma`` the mean and
standard deviation of the per-sample decrease, ``m`` and ``B`` batch sizes, ``N`` the training-set size,
``eta``/``eps`` learning rates, ``rho`` momentum, ``L`` the smoothness and ``c`` the strong-convexity
constant, ``p`` the number of workers.
"""

import sympy as sp

__all__ = [
    "B",
    "L",
    "N",
    "c",
    "eps",
    "eta",
    "h",
    "m",
    "mu",
    "n",
    "p",
    "rho",
    "s",
    "s_star",
    "sigma",
    "t",
    "x",
]

s = sp.Symbol("s", real=True)
s_star = sp.Symbol("S_star", real=True)
mu = sp.Symbol("mu", real=True)
sigma = sp.Symbol("sigma", positive=True)
m = sp.Symbol("m", positive=True)
n = sp.Symbol("n", positive=True)
B = sp.Symbol("B", positive=True)
N = sp.Symbol("N", positive=True)
eta = sp.Symbol("eta", positive=True)
eps = sp.Symbol("epsilon", positive=True)
rho = sp.Symbol("rho", nonnegative=True)
L = sp.Symbol("L", positive=True)
c = sp.Symbol("c", positive=True)
h = sp.Symbol("h", positive=True)
p = sp.Symbol("p", positive=True, integer=True)
t = sp.Symbol("t", nonnegative=True, integer=True)
x = sp.Symbol("x", real=True)
