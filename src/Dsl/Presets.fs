namespace Dsl

open Dsl.Engine.Optim

/// A framework's defaults in one place: how dense and conv layers are initialised, batch norm's momentum and
/// epsilon, and the optimizers' hyper-parameters (each at a given learning rate, with the framework's default rate
/// beside it). `Presets.keras` reproduces a Keras model in Dsl; `Presets.pytorch` is what Dsl does by default.
type Preset = {
    /// "keras" or "pytorch".
    Name: string
    /// Dense layers' options (initialisers; no activation).
    Dense: DenseOptions
    /// Conv layers' options (initialisers; stride 1, valid padding, no activation).
    Conv: ConvOptions
    /// Batch norm's momentum (PyTorch's convention: the weight of the new batch) and epsilon.
    BatchNorm: BatchNormOptions
    /// RMSprop at a learning rate, with the framework's ρ and ε.
    Rmsprop: float -> OptimizerSpec
    /// Adam at a learning rate, with the framework's β and ε.
    Adam: float -> OptimizerSpec
    /// Adadelta at a learning rate, with the framework's ρ and ε.
    Adadelta: float -> OptimizerSpec
    /// Plain SGD at a learning rate.
    Sgd: float -> OptimizerSpec
    /// The framework's default learning rates: RMSprop, Adam, Adadelta, SGD (PyTorch's SGD has none; 0.01 here).
    DefaultRates: {| Rmsprop: float; Adam: float; Adadelta: float; Sgd: float |}
}

/// Keras's and PyTorch's defaults as presets, and the layers and optimizers they give.
module Presets =
    /// Keras 2 (TensorFlow 2.x) as the seeds used it: glorot-uniform kernels and zero biases for Dense and Conv2D;
    /// BatchNormalization momentum 0.99 (Keras's moving-average decay, PyTorch's momentum 0.01) and epsilon 1e-3;
    /// RMSprop ρ 0.9, ε 1e-7 (lr 1e-3); Adam β 0.9/0.999, ε 1e-7 (lr 1e-3); Adadelta ρ 0.95, ε 1e-7 (lr 1e-3); SGD lr
    /// 0.01. RMSprop and Adadelta step as Keras's (ε outside the square root for RMSprop without momentum); Adam adds
    /// ε to √v̂ as PyTorch does, where Keras adds it to √v (Keras's ε is PyTorch's ε/√(1−β₂ᵗ): the same up to 1e-7).
    let keras: Preset = {
        Name = "keras"
        Dense = { DenseOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros }
        Conv = { ConvOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros }
        BatchNorm = { BatchNormOptions.Default with Momentum = 0.01; Eps = 1e-3 }
        Rmsprop = fun lr -> { Name = "RMSprop"; Create = fun ps -> new RMSprop(ps, lr, alpha = 0.9, eps = 1e-7) :> Optimizer }
        Adam = fun lr -> { Name = "Adam"; Create = fun ps -> new Adam(ps, lr, eps = 1e-7) :> Optimizer }
        Adadelta = fun lr -> { Name = "Adadelta"; Create = fun ps -> new Adadelta(ps, lr, rho = 0.95, eps = 1e-7) :> Optimizer }
        Sgd = Optimizers.sgd
        DefaultRates = {| Rmsprop = 1e-3; Adam = 1e-3; Adadelta = 1e-3; Sgd = 0.01 |}
    }

    /// PyTorch 1.13's defaults (Dsl's own): Kaiming-uniform(a=√5) weights and U(±1/√fan_in) biases; batch norm
    /// momentum 0.1, eps 1e-5; RMSprop α 0.99, ε 1e-8 (lr 1e-2); Adam ε 1e-8 (lr 1e-3); Adadelta ρ 0.9, ε 1e-6 (lr 1).
    let pytorch: Preset = {
        Name = "pytorch"
        Dense = DenseOptions.Default
        Conv = ConvOptions.Default
        BatchNorm = BatchNormOptions.Default
        Rmsprop = Optimizers.rmsprop
        Adam = Optimizers.adam
        Adadelta = Optimizers.adadelta
        Sgd = Optimizers.sgd
        DefaultRates = {| Rmsprop = 1e-2; Adam = 1e-3; Adadelta = 1.0; Sgd = 0.01 |}
    }

    /// A dense layer of `units` with the preset's initialisers.
    let dense (p: Preset) (units: int) : Layer = denseWith p.Dense units

    /// A k×k conv layer of `filters` with the preset's initialisers (valid padding, stride 1).
    let conv2d (p: Preset) (filters: int) (kernel: int) : Layer = conv2dWith p.Conv filters (kernel, kernel)

    /// Batch norm with the preset's momentum and epsilon.
    let batchNorm (p: Preset) : Layer = batchNormWith p.BatchNorm
