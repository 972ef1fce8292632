namespace Dsl

open Dsl.Engine

/// Options of `denseWith`. Defaults match PyTorch's nn.Linear: bias on, Kaiming-uniform(a=√5) weights, U(±1/√fan_in) biases.
type DenseOptions = {
    Bias: bool
    WeightInit: Initializer
    BiasInit: Initializer
    /// Applied after the affine map inside the same layer (one summary row, as Keras's `activation=`).
    Activation: Activation option
} with

    /// PyTorch's defaults, no activation.
    static member Default = { Bias = true; WeightInit = Initializer.torchWeight; BiasInit = Initializer.torchBias; Activation = None }

/// Parameter creation shared by weighted layers.
module internal Weighted =
    /// `weight` (and `bias` when enabled) for a weight of `wShape` and a bias of `bShape`.
    let create (ctx: InitContext) (weightInit: Initializer) (biasInit: Initializer) (bias: bool) (wShape: int64[]) (bShape: int64[]) : Params =
        let k = Rng.splitN 2 ctx.Rng
        let w = Initializer.create ctx weightInit wShape wShape k.[0]
        Tree.Node(("weight", Tree.Leaf w) :: (if bias then [ "bias", Tree.Leaf(Initializer.create ctx biasInit wShape bShape k.[1]) ] else []))

    let weight (p: Params) = Tree.find "weight" p
    let bias (p: Params) : Tensor | null = Tree.tryFind "bias" p |> Option.toObj
    let activate (a: Activation option) (x: Tensor) =
        match a with
        | Some a -> a.F x
        | None -> x

/// Fully connected layers.
[<AutoOpen>]
module DenseLayers =
    /// A dense (fully connected) layer with options: y = act(x·Wᵀ + b), W of shape [units, in].
    let denseWith (o: DenseOptions) (units: int) : Layer =
        if units <= 0 then invalidArg "units" (sprintf "dense: units must be positive, got %d" units)
        {
            Layer.identity "Dense" with
                OutputActivation = o.Activation |> Option.map _.Kind
                Init =
                    fun ctx ->
                        match Layer.dims ctx "Dense" with
                        | [ inF ] -> {
                            Output = Shape.Dims [ int64 units ]
                            Params = Weighted.create ctx o.WeightInit o.BiasInit o.Bias [| int64 units; inF |] [| int64 units |]
                            State = Tree.empty
                            Children = []
                            Frozen = []
                          }
                        | d ->
                            let hint = if List.length d > 1 then "add flatten before dense" else "dense needs a feature vector per sample"
                            raise (Layer.shapeError ctx "Dense" "(None, features): one feature vector per sample" hint)
                Apply =
                    fun a v ->
                        let y = Functional.Linear(Value.tensor v, Weighted.weight a.Params, Weighted.bias a.Params)
                        Value.T(Weighted.activate o.Activation y), a.State
        }

    /// A dense layer with PyTorch's default init: `dense 128`.
    let dense (units: int) : Layer = denseWith DenseOptions.Default units
