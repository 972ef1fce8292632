namespace Dsl

open Dsl.Engine

/// An activation function with the name a summary shows for it, and its in-place form where the engine has one
/// (used in inference to overwrite an intermediate nobody else holds, as PyTorch's `inplace=True` modules do).
type Activation = { Kind: string; F: Tensor -> Tensor; InPlace: (Tensor -> Tensor) option }

/// Every engine activation, as a value (for layer options) — see `Layers` for them as layers.
module Activation =
    let private a kind f = { Kind = kind; F = f; InPlace = None }
    let private ai kind f f_ = { Kind = kind; F = f; InPlace = Some f_ }
    /// max(0, x).
    let relu = ai "ReLU" Functional.Relu Functional.Relu_
    /// True when `a` computes `relu`'s function (not merely an activation named "ReLU").
    let isRelu (a: Activation) = obj.ReferenceEquals(a.F, relu.F)
    /// Leaky ReLU with the given negative slope.
    let leakyRelu (slope: float) = ai "LeakyReLU" (fun x -> Functional.LeakyRelu(x, slope)) (fun x -> Functional.LeakyRelu_(x, slope))
    /// ELU with the given α.
    let elu (alpha: float) = ai "ELU" (fun x -> Functional.Elu(x, alpha)) (fun x -> Functional.Elu_(x, alpha))
    /// SELU.
    let selu = ai "SELU" Functional.Selu Functional.Selu_
    /// GELU (exact).
    let gelu = a "GELU" (fun x -> Functional.Gelu(x))
    /// SiLU / swish.
    let silu = ai "SiLU" Functional.Silu Functional.Silu_
    /// tanh.
    let tanh = ai "Tanh" Functional.Tanh Functional.Tanh_
    /// Logistic sigmoid.
    let sigmoid = ai "Sigmoid" Functional.Sigmoid Functional.Sigmoid_
    /// Softplus (β = 1).
    let softplus = a "Softplus" (fun x -> Functional.Softplus(x))
    /// Mish.
    let mish = ai "Mish" Functional.Mish Functional.Mish_
    /// Clamp to [−1, 1].
    let hardtanh = ai "Hardtanh" (fun x -> Functional.Hardtanh(x)) (fun x -> Functional.Hardtanh_(x))
    /// min(max(0, x), 6).
    let relu6 = ai "ReLU6" Functional.Relu6 Functional.Relu6_
    /// x/(1 + |x|).
    let softsign = a "Softsign" Functional.Softsign
    /// Hard swish.
    let hardswish = ai "Hardswish" Functional.Hardswish Functional.Hardswish_
    /// Hard sigmoid.
    let hardsigmoid = ai "Hardsigmoid" Functional.Hardsigmoid Functional.Hardsigmoid_
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
