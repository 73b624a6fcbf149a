"""Natural policy gradient on finite MDPs.

    >>> from ngd import policy
    >>> mdp = policy.chain()                       # or policy.load_mdp("mdp.npz")
    >>> result = policy.optimize(mdp, method="npg", step=1.0, n_iter=50)
    >>> result.values[-1], result.optimal_value    # V^{(50)}(rho) and V*(rho)

The natural gradient of V(rho) is F^{-1} grad V with F = E_{s ~ d_rho^pi, a ~ pi}
[grad log pi grad log pi^T], the Fisher of the policy under its discounted state visitation;
for the tabular softmax the step is theta <- theta + eta A^pi / (1 - gamma).
"""
from ngd.policy.envs import ENVIRONMENTS, chain, gridworld
from ngd.policy.evaluation import Evaluation, evaluate_policy, optimal_value, value_iteration
from ngd.policy.fisher import exact_fisher, sampled_fisher
from ngd.policy.gradients import policy_gradient, reinforce_gradient
from ngd.policy.mdp import MDP, load_mdp
from ngd.policy.policies import LogLinearPolicy, SoftmaxPolicy, mean_kl
from ngd.policy.sampling import Batch, batch_visitation, sample_episodes
from ngd.policy.solvers import (METHODS, PolicyResult, natural_direction, optimize,
                                trust_region_step)

__all__ = ["MDP", "load_mdp", "chain", "gridworld", "ENVIRONMENTS", "Evaluation",
           "evaluate_policy", "value_iteration", "optimal_value", "SoftmaxPolicy",
           "LogLinearPolicy", "mean_kl", "Batch", "batch_visitation", "sample_episodes",
           "policy_gradient", "reinforce_gradient", "exact_fisher", "sampled_fisher",
           "natural_direction", "trust_region_step", "optimize", "PolicyResult", "METHODS"]
