namespace Dsl

open Dsl.Engine
open Dsl.Engine.Optim

/// How to create an optimizer over a model's trainable parameters (so one spec serves many fits).
type OptimizerSpec = { Name: string; Create: Tensor list -> Optimizer }

/// L-BFGS's options (torch.optim.LBFGS's arguments) for `Training.fitFullBatch`; `Optimizers.lbfgs` holds
/// PyTorch's defaults: `{ Optimizers.lbfgs with StrongWolfe = true }`. L-BFGS evaluates the loss several times per
/// step, so it is not an `OptimizerSpec` for `fit`'s mini-batches.
type LbfgsSpec = {
    /// The learning rate (the first step length; with no line search, every step's length).
    Lr: float
    /// Iterations per step (max_iter).
    MaxIter: int
    /// Loss evaluations per step (max_eval); None is max_iter·5/4.
    MaxEval: int option
    /// Stop when the largest |gradient| element is at most this (tolerance_grad).
    ToleranceGrad: float
    /// Stop when the loss or the step changes by less than this (tolerance_change).
    ToleranceChange: float
    /// Curvature pairs kept (history_size).
    HistorySize: int
    /// The strong-Wolfe line search (line_search_fn="strong_wolfe") instead of a fixed step.
    StrongWolfe: bool
} with

    /// The engine's optimizer over the given parameters.
    member s.Create(ps: Tensor list) =
        new LBFGS(
            ps,
            s.Lr,
            s.MaxIter,
            Option.toNullable s.MaxEval,
            s.ToleranceGrad,
            s.ToleranceChange,
            s.HistorySize,
            (if s.StrongWolfe then LineSearch.StrongWolfe else LineSearch.None)
        )


/// The optimizers with PyTorch's defaults; the `...With` forms take every option.
module Optimizers =
    /// SGD with the given learning rate.
    let sgd (lr: float) = { Name = "SGD"; Create = fun ps -> new SGD(ps, lr) :> Optimizer }
    /// SGD with momentum, Nesterov and weight decay.
    let sgdWith (lr: float) (momentum: float) (nesterov: bool) (weightDecay: float) = {
        Name = "SGD"
        Create = fun ps -> new SGD(ps, lr, momentum, 0.0, weightDecay, nesterov) :> Optimizer
    }
    /// Adam (betas 0.9/0.999, eps 1e-8).
    let adam (lr: float) = { Name = "Adam"; Create = fun ps -> new Adam(ps, lr) :> Optimizer }
    /// Adam with L2 weight decay.
    let adamWith (lr: float) (weightDecay: float) = { Name = "Adam"; Create = fun ps -> new Adam(ps, lr, weightDecay = weightDecay) :> Optimizer }
    /// AdamW with decoupled weight decay.
    let adamW (lr: float) (weightDecay: float) = { Name = "AdamW"; Create = fun ps -> new AdamW(ps, lr, weightDecay = weightDecay) :> Optimizer }
    /// RMSprop (PyTorch defaults: alpha 0.99, eps 1e-8).
    let rmsprop (lr: float) = { Name = "RMSprop"; Create = fun ps -> new RMSprop(ps, lr) :> Optimizer }
    /// Adadelta (rho 0.9, eps 1e-6).
    let adadelta (lr: float) = { Name = "Adadelta"; Create = fun ps -> new Adadelta(ps, lr) :> Optimizer }
    /// Adagrad.
    let adagrad (lr: float) = { Name = "Adagrad"; Create = fun ps -> new Adagrad(ps, lr) :> Optimizer }
    /// NAdam (momentum decay 4e-3).
    let nadam (lr: float) = { Name = "NAdam"; Create = fun ps -> new NAdam(ps, lr) :> Optimizer }
    /// L-BFGS for `Training.fitFullBatch` with PyTorch's defaults: lr 1, max_iter 20, max_eval 25, tolerance_grad
    /// 1e-7, tolerance_change 1e-9, history 100, no line search.
    let lbfgs = { Lr = 1.0; MaxIter = 20; MaxEval = None; ToleranceGrad = 1e-7; ToleranceChange = 1e-9; HistorySize = 100; StrongWolfe = false }
