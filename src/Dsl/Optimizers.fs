namespace Dsl

open Dsl.Engine
open Dsl.Engine.Optim

/// How to create an optimizer over a model's trainable parameters (so one spec serves many fits).
type OptimizerSpec = { Name: string; Create: Tensor list -> Optimizer }

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
