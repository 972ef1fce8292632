namespace Dsl

open Dsl.Engine

/// An activation function with the name a summary shows for it.
type Activation = { Kind: string; F: Tensor -> Tensor }

/// Every engine activation, as a value (for layer options) — see `Layers` for them as layers.
module Activation =
    let private a kind f = { Kind = kind; F = f }
    /// max(0, x).
    let relu = a "ReLU" Functional.Relu
    /// Leaky ReLU with the given negative slope.
    let leakyRelu (slope: float) = a "LeakyReLU" (fun x -> Functional.LeakyRelu(x, slope))
    /// ELU with the given α.
    let elu (alpha: float) = a "ELU" (fun x -> Functional.Elu(x, alpha))
    /// SELU.
    let selu = a "SELU" Functional.Selu
    /// GELU (exact).
    let gelu = a "GELU" (fun x -> Functional.Gelu(x))
    /// SiLU / swish.
    let silu = a "SiLU" Functional.Silu
    /// tanh.
    let tanh = a "Tanh" Functional.Tanh
    /// Logistic sigmoid.
    let sigmoid = a "Sigmoid" Functional.Sigmoid
    /// Softplus (β = 1).
    let softplus = a "Softplus" (fun x -> Functional.Softplus(x))
    /// Mish.
    let mish = a "Mish" Functional.Mish
    /// Clamp to [−1, 1].
    let hardtanh = a "Hardtanh" (fun x -> Functional.Hardtanh(x))
    /// min(max(0, x), 6).
    let relu6 = a "ReLU6" Functional.Relu6
    /// x/(1 + |x|).
    let softsign = a "Softsign" Functional.Softsign
    /// Hard swish.
    let hardswish = a "Hardswish" Functional.Hardswish
    /// Hard sigmoid.
    let hardsigmoid = a "Hardsigmoid" Functional.Hardsigmoid
    /// CELU (α = 1).
    let celu = a "CELU" (fun x -> Functional.Celu(x))
    /// log σ(x).
    let logSigmoid = a "LogSigmoid" Functional.LogSigmoid
    /// Softmax over the last dimension.
    let softmax = a "Softmax" (fun x -> Functional.Softmax(x, -1L))
    /// Log-softmax over the last dimension.
    let logSoftmax = a "LogSoftmax" (fun x -> Functional.LogSoftmax(x, -1L))
    /// The identity.
    let linear = a "Linear" id
