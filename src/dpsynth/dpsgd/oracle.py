"""Per-sample gradients with ``torch.func`` (vmap of grad): the oracle Opacus is tested against."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


class _LossModule(nn.Module):
    """Wraps (model, loss_fn) so that ``torch.func.functional_call`` swaps every parameter."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(self.model, batch)


def per_sample_gradients(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    batch: torch.Tensor,
    params: Sequence[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Gradient of each row's loss with respect to each parameter, shape (B, *param.shape).

    Args:
        model: The model (parameters are read, not changed).
        loss_fn: ``loss_fn(model, batch) -> (B,)`` per-row losses; called on one-row batches.
        batch: The rows (B, d).
        params: The parameters to differentiate (default: all trainable, in order).

    Returns:
        One tensor per parameter.
    """
    wrapper = _LossModule(model, loss_fn)
    named = {f"model.{n}": p for n, p in model.named_parameters() if p.requires_grad}
    wanted = list(params) if params is not None else list(named.values())
    ids = {id(p) for p in wanted}
    names = [n for n, p in named.items() if id(p) in ids]
    order = {id(p): i for i, p in enumerate(wanted)}
    names.sort(key=lambda n: order[id(named[n])])
    detached = {n: named[n].detach() for n in names}

    def one(theta: dict[str, torch.Tensor], row: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(wrapper, theta, (row.unsqueeze(0),)).sum()

    grads = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0))(detached, batch)
    return [grads[n] for n in names]
