# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pipeline demo: the optimal denoiser recalls its training points
#
# A placeholder page that exercises every mechanism of the book (parameters, a numbered
# figure, a citation, a widget and a CLAIM line); it goes once the real chapters are in.
#
# For a finite training set $\{y_i\}$ the denoiser that minimizes the training loss is the
# posterior mean {cite:p}`karras2022edm`
#
# $$
# D^*(x;\sigma) = \sum_i y_i\, w_i(x), \qquad
# w = \operatorname{softmax}_i\!\Big(-\frac{\lVert x - y_i\rVert^2}{2\sigma^2}\Big),
# $$
#
# and sampling with it only returns training points {cite:p}`kaiser2026diffusion`, as
# {numref}`fig-demo-samples` shows for points on a circle.

# %% tags=["parameters"]
n_points = 10     # int in [2, 200]: training points, equally spaced on a circle of radius 10
n_samples = 200   # int in [10, 5000]: samples drawn with the optimal denoiser
n_steps = 40      # int in [2, 1000]: Euler steps of the EDM sampler
sigma_max = 80.0  # float in (0, 1000]: largest noise level of the schedule
seed = 0          # int in [0, 2**31-1]: master seed

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from diffgen_lib.book import claim, scale, setup_chapter

params = setup_chapter("00_pipeline_demo", globals())
rng = np.random.default_rng(seed)

# %% [markdown]
# The sampler follows the probability-flow ODE with Euler steps on the EDM noise schedule
# ($\sigma_\min = 0.002$, $\rho = 7$); the last step lands on $D^*(x;\sigma_\min)$.

# %%
theta = 2 * np.pi * (np.arange(n_points) / n_points + 1e-2)
train = 10 * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def optimal_denoiser(x, sigma):
    """Posterior mean of the training points given x = y + sigma * n (log-space softmax)."""
    logits = -((x[:, None, :] - train[None]) ** 2).sum(-1) / (2 * sigma**2)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (w / w.sum(axis=1, keepdims=True)) @ train


rho, sigma_min = 7.0, 0.002
i = np.arange(n_steps)
sigmas = (sigma_max ** (1 / rho) + i / (n_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
sigmas = np.append(sigmas, 0.0)
x = rng.standard_normal((n_samples, 2)) * sigmas[0]
path = [x]
for s, s_next in zip(sigmas[:-1], sigmas[1:]):
    x = x + (s_next - s) * (x - optimal_denoiser(x, s)) / s
    path.append(x)
path = np.stack(path)
nearest = np.sqrt(((x[:, None, :] - train[None]) ** 2).sum(-1)).min(axis=1)
recalled = float((nearest < 0.01).mean())

# %% mystnb={"figure": {"name": "fig-demo-samples", "caption": "Samples of the optimal denoiser (dots) land exactly on the training points (crosses); grey lines are the sampling trajectories of the first 30 samples, clipped to the plotted region."}}
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for k in range(min(30, n_samples)):
    ax.plot(path[:, k, 0], path[:, k, 1], color="0.75", lw=0.6)
ax.scatter(x[:, 0], x[:, 1], s=12, label="samples")
ax.scatter(train[:, 0], train[:, 1], marker="x", color="k", s=50, label="training points")
ax.set(xlim=(-15, 15), ylim=(-15, 15), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# The slider below picks a sampler step and reports how far the samples are from the nearest
# training point there (in the HTML it shows its saved state; open the chapter in JupyterLab
# to move it).

# %%
def distance_at(step=n_steps):
    d = np.sqrt(((path[step][:, None, :] - train[None]) ** 2).sum(-1)).min(axis=1)
    print(f"step {step}: sigma = {sigmas[step]:.3g}, mean distance to nearest training point = {d.mean():.3g}")


widgets.interact(distance_at, step=widgets.IntSlider(value=n_steps, min=0, max=n_steps));

# %%
# NBVAL_CHECK_OUTPUT
print(f"mean distance of the samples to the nearest training point: {nearest.mean():.4f}")
scale("toy 2-D circle", n_points, "analytic optimal denoiser", f"{n_steps} Euler steps")
claim("C1", recalled >= 0.99, f"fraction of {n_samples} samples within 0.01 of a training point",
      f"{recalled:.3f}", ">= 0.99")
