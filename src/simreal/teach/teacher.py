"""Group samplers for the synthetic part of a batch: the adversarial teacher and its baselines.

All samplers share one API, so a training loop can swap them::

    idx = sampler.indices(n)                  # synthetic sample indices for this step
    ...                                       # train on real batch + synthetic[idx]
    sampler.observe(real_losses, real_inputs, synthetic_losses)   # per-sample losses (detached)

**AdversarialTeacher** (synthetic-humans paper, section 4.1). Every ``n_steps`` (N) steps it

1. takes the real image with the highest loss seen in the last N steps as input (``hardest="paper"``), or
   the ``top_k`` hardest of the last ``pool`` real images with probabilities taken from the hardest one
   (``hardest="code"``, the authors' code: 32 of 320);
2. computes the reward δ = +1 if the mean synthetic loss of the last N steps is ≥ the mean of the previous
   H such values (Eq. 1), else −1 (no update until one previous value exists);
3. builds the pseudo-target around the group i chosen for those N steps (Eq. 2):
   P_i = P̃_i + δαP̃_i and P_j = P̃_j − δαP̃_i / (|g| − 1) (``divisor="paper"``), or with |g| and a
   renormalisation (``"code"``); with ``penalty="code"`` the penalty branch (δ = −1) leaves P_i = P̃_i (the
   authors' code compares instead of assigning), only the P_j move. P is clipped at 1e-6 and renormalised;
4. minimises KL(P ‖ P̃) with its own optimizer (Adam, ``lr``; the paper), or (``optimizer="shared"``, the
   authors' code, which puts the teacher's variables into the student's optimizer) with an optimizer of
   the student's type and settings, bound by the trainer (:meth:`AdversarialTeacher.bind_student_optimizer`);
5. draws the next group from P̃ (recomputed after the update), or uniformly with probability ε.

Defaults the paper does not give come from the authors' code: N = 20, H = 10, α = 0.01; learning rate
1e-4 (Adam) and the small CNN are simreal's. ``redraw_small=True`` (the authors' code) penalises and redraws
a group with fewer samples than a step needs.

**Baselines**: :class:`UniformSamples` (plain training), :class:`UniformGroups` (a uniformly random group
for every N steps: the paper notes the teacher tends to this), :class:`GroupDRO` (Sagawa et al. 2020:
group weights q ← q·exp(η·loss_g), normalised; samples drawn from groups ∝ q).

Under DDP, rank 0 decides and broadcasts the group; synthetic losses are averaged over ranks first.
Every decision is logged (:attr:`GroupSampler.log`): step, group, P̃ (or q), reward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from simreal.teach.grouping import Grouping
from simreal.utils.errors import CheckpointError
from simreal.utils.seeding import numpy_rng


@dataclass(frozen=True)
class TeacherConfig:
    n_steps: int = 20  # N (authors' code)
    history: int = 10  # H (authors' code)
    alpha: float = 0.01  # α (authors' code)
    epsilon: float = 0.1  # ε (paper)
    lr: float = 1e-4
    net: Literal["cnn", "vgg"] = "cnn"
    width: int = 16
    divisor: Literal["paper", "code"] = "paper"
    penalty: Literal["paper", "code"] = "paper"
    hardest: Literal["paper", "code"] = "paper"
    top_k: int = 32
    pool: int = 320
    redraw_small: bool = False
    optimizer: Literal["own", "shared"] = "own"  # shared: the student's optimizer type and settings (authors)


def pseudo_target(p: torch.Tensor, i: int, delta: int, alpha: float, divisor: str = "paper",
                  penalty: str = "paper") -> torch.Tensor:
    """Eq. 2 of the paper (and the authors' variants) for the chosen group ``i``; ``p`` = P̃ (1-D)."""
    g = p.numel()
    out = p.clone()
    div = g - 1 if divisor == "paper" else g
    others = torch.arange(g) != i
    out[others] = p[others] - delta * alpha * p[i] / div
    if not (penalty == "code" and delta < 0):
        out[i] = p[i] + delta * alpha * p[i]
    out = out.clamp_min(1e-6)
    return out / out.sum()  # a no-op for the paper's rule unless the clip acted


def teacher_net(kind: str, channels: int, n_groups: int, width: int = 16) -> nn.Module:
    """A small CNN (default) or a VGG-style trunk (two blocks of two 3×3 convs) with a linear head."""
    if kind == "cnn":
        layers = [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.ReLU(),
                  nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                  nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU()]
        out = 4 * width
    else:
        layers, c = [], channels
        for w in (width * 4, width * 8):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]
            c = w
        out = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(out, n_groups))


def _dist() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class GroupSampler:
    """Base: draws ``indices`` within the current group; subclasses decide the group."""

    name = "base"

    def __init__(self, grouping: Grouping, seed: int, n_steps: int = 20):
        self.grouping, self.members = grouping, grouping.members()
        self.rng = numpy_rng(seed, 77)
        self.n_steps = n_steps
        self.step = 0
        self.group = 0
        self.log: list[dict[str, Any]] = []

    def indices(self, n: int) -> np.ndarray:
        m = self.members[self.group]
        return m[self.rng.integers(0, len(m), n)]

    def observe(self, real_losses: torch.Tensor, real_inputs: torch.Tensor, synthetic_losses: torch.Tensor) -> None:
        self.step += 1

    def _broadcast(self, value: int) -> int:
        if not _dist():
            return value
        t = torch.tensor([value])
        dist.broadcast(t, src=0)
        return int(t.item())

    # -- checkpoints: the complete state, so a resume at any step continues bit for bit ---------------
    def state_dict(self) -> dict[str, Any]:
        """The JSON part of the state (see :meth:`tensor_state` and :meth:`checkpoint_modules` for the rest)."""
        return {"step": self.step, "group": self.group, "rng": self.rng.bit_generator.state, "log": self.log}

    def load_state_dict(self, state: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
        self.step, self.group, self.log = state["step"], state["group"], state["log"]
        self.rng.bit_generator.state = state["rng"]

    def tensor_state(self) -> dict[str, torch.Tensor]:
        """Tensors of the state that are not module weights (saved next to them, given back to
        :meth:`load_state_dict`)."""
        return {}

    def checkpoint_modules(self) -> tuple[dict[str, torch.nn.Module], dict[str, torch.optim.Optimizer]]:
        """Networks and optimizers of the sampler, by checkpoint name."""
        return {}, {}


class UniformSamples(GroupSampler):
    """Plain training: every synthetic sample equally likely, groups ignored."""

    name = "uniform-samples"

    def indices(self, n: int) -> np.ndarray:
        return self.rng.integers(0, len(self.grouping.labels), n)


class UniformGroups(GroupSampler):
    """A uniformly random group for every N steps."""

    name = "uniform-groups"

    def __init__(self, grouping: Grouping, seed: int, n_steps: int = 20):
        super().__init__(grouping, seed, n_steps)
        self.group = self._broadcast(int(self.rng.integers(grouping.n_groups)))

    def observe(self, real_losses, real_inputs, synthetic_losses) -> None:
        self.step += 1
        if self.step % self.n_steps == 0:
            self.group = self._broadcast(int(self.rng.integers(self.grouping.n_groups)))
            self.log.append({"step": self.step, "group": self.group})


class GroupDRO(GroupSampler):
    """Exponentiated-gradient group weights q (Sagawa et al.); each sample's group is drawn from q."""

    name = "group-dro"

    def __init__(self, grouping: Grouping, seed: int, eta: float = 0.01, n_steps: int = 20):
        super().__init__(grouping, seed, n_steps)
        self.eta = eta
        self.q = np.full(grouping.n_groups, 1.0 / grouping.n_groups)
        self._last: np.ndarray | None = None

    def indices(self, n: int) -> np.ndarray:
        groups = self.rng.choice(self.grouping.n_groups, size=n, p=self.q)
        idx = np.array([self.members[g][self.rng.integers(len(self.members[g]))] for g in groups])
        self._last = groups
        return idx

    def observe(self, real_losses, real_inputs, synthetic_losses) -> None:
        self.step += 1
        if self._last is None:
            return
        losses = synthetic_losses.detach().float().cpu().numpy()
        for g in np.unique(self._last):
            self.q[g] *= math.exp(self.eta * float(losses[self._last == g].mean()))
        if _dist():
            t = torch.from_numpy(self.q)
            dist.broadcast(t, src=0)
            self.q = t.numpy()
        self.q /= self.q.sum()
        if self.step % self.n_steps == 0:
            self.log.append({"step": self.step, "q": self.q.round(5).tolist()})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "q": self.q.tolist()}

    def load_state_dict(self, state: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
        super().load_state_dict(state)
        self.q = np.array(state["q"])


class AdversarialTeacher(GroupSampler):
    """The paper's teacher (see the module docstring); ``channels`` and the real inputs' size define its
    input (the student's input resolution)."""

    name = "teacher"

    def __init__(self, grouping: Grouping, seed: int, channels: int, cfg: TeacherConfig = TeacherConfig(),
                 min_group_size: int = 1):
        super().__init__(grouping, seed, cfg.n_steps)
        self.cfg = cfg
        self.min_group_size = min_group_size
        gen = torch.Generator().manual_seed(int(numpy_rng(seed, 78).integers(2**31)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
            self.net = teacher_net(cfg.net, channels, grouping.n_groups, cfg.width)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.window_synthetic: list[float] = []
        self.history: list[float] = []
        self.hard_losses: list[float] = []
        self.hard_inputs: list[torch.Tensor] = []
        self.rewards: list[int] = []
        self.group = self._broadcast(int(self.rng.integers(grouping.n_groups)))

    def bind_student_optimizer(self, student: torch.optim.Optimizer) -> None:
        """With ``optimizer="shared"``: optimise the teacher like the student (same class and settings)."""
        if self.cfg.optimizer == "shared":
            import inspect

            accepted = inspect.signature(type(student).__init__).parameters
            settings = {k: v for k, v in student.defaults.items() if k in accepted}
            self.opt = type(student)(self.net.parameters(), **settings)

    # -- inputs ------------------------------------------------------------------------------------
    def _remember(self, real_losses: torch.Tensor, real_inputs: torch.Tensor) -> None:
        keep = 1 if self.cfg.hardest == "paper" else self.cfg.pool
        for loss, x in zip(real_losses.detach().float().cpu().tolist(), real_inputs.detach().cpu(), strict=True):
            self.hard_losses.append(loss)
            self.hard_inputs.append(x)
        if len(self.hard_losses) > keep:  # keep the hardest (paper: one; code: a pool of the last hardest)
            order = np.argsort(-np.array(self.hard_losses), kind="stable")[:keep]
            self.hard_losses = [self.hard_losses[i] for i in order]
            self.hard_inputs = [self.hard_inputs[i] for i in order]

    def _input(self) -> torch.Tensor:
        k = 1 if self.cfg.hardest == "paper" else self.cfg.top_k
        return torch.stack(self.hard_inputs[:k])  # sorted: the hardest first

    def probabilities(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """P̃ for the hardest real input (the first of ``x``)."""
        with torch.no_grad():
            return torch.softmax(self.net(x if x is not None else self._input()), dim=1)[0]

    # -- the update ----------------------------------------------------------------------------------
    def observe(self, real_losses: torch.Tensor, real_inputs: torch.Tensor, synthetic_losses: torch.Tensor) -> None:
        self.step += 1
        self._remember(real_losses, real_inputs)
        self.window_synthetic.append(float(synthetic_losses.detach().float().mean()))
        if self.step % self.cfg.n_steps:
            return
        mean = float(np.mean(self.window_synthetic))
        if _dist():
            t = torch.tensor([mean], dtype=torch.float64)
            dist.all_reduce(t)
            mean = float(t.item()) / dist.get_world_size()
        self.window_synthetic.clear()
        entry: dict[str, Any] = {"step": self.step, "group": self.group, "synthetic_loss": round(mean, 6)}
        if self.history:
            delta = 1 if mean >= float(np.mean(self.history[-self.cfg.history:])) else -1
            entry["reward"] = delta
            self.rewards.append(delta)
            self._update(self.group, delta)
        self.history.append(mean)
        self.group = self._decide(entry)
        self.log.append(entry)
        self.hard_losses, self.hard_inputs = [], []

    def _update(self, i: int, delta: int) -> None:
        x = self._input()
        logp = torch.log_softmax(self.net(x), dim=1)
        p_tilde = logp[0].exp().detach()
        target = pseudo_target(p_tilde, i, delta, self.cfg.alpha, self.cfg.divisor, self.cfg.penalty)
        if self.cfg.hardest == "code":
            loss = (target * (target.log() - logp)).sum(dim=1).mean()
        else:
            loss = (target * (target.log() - logp[0])).sum()  # KL(P || P~)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def _decide(self, entry: dict[str, Any]) -> int:
        p = self.probabilities().numpy().astype(float)
        p /= p.sum()
        entry["p"] = p.round(5).tolist()
        for _ in range(10):
            explore = self.rng.random() < self.cfg.epsilon
            g = int(self.rng.integers(len(p))) if explore else int(self.rng.choice(len(p), p=p))
            if not (self.cfg.redraw_small and len(self.members[g]) < self.min_group_size):
                break
            self._update(g, -1)  # the authors' code: penalise a group too small to fill a batch, redraw
            p = self.probabilities().numpy().astype(float)
            p /= p.sum()
        entry["explore"] = bool(explore)
        return self._broadcast(g)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "history": self.history, "window": self.window_synthetic,
                "rewards": self.rewards, "hard_losses": self.hard_losses}

    def tensor_state(self) -> dict[str, torch.Tensor]:
        return {"hard_inputs": torch.stack(self.hard_inputs)} if self.hard_inputs else {}

    def checkpoint_modules(self) -> tuple[dict[str, torch.nn.Module], dict[str, torch.optim.Optimizer]]:
        return {"teacher": self.net}, {"teacher": self.opt}

    def load_state_dict(self, state: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
        super().load_state_dict(state)
        self.history, self.window_synthetic, self.rewards = state["history"], state["window"], state["rewards"]
        self.hard_losses = list(state["hard_losses"])
        inputs = (tensors or {}).get("hard_inputs")
        self.hard_inputs = list(inputs.unbind(0)) if inputs is not None else []
        if len(self.hard_inputs) != len(self.hard_losses):
            raise CheckpointError(f"teacher state: {len(self.hard_losses)} hardest losses but "
                             f"{len(self.hard_inputs)} saved inputs")


SAMPLERS = {"teacher": AdversarialTeacher, "uniform-samples": UniformSamples, "uniform-groups": UniformGroups,
            "group-dro": GroupDRO}
