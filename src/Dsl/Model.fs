namespace Dsl

open Dsl.Engine

/// Where and how a model is built: the seed of its key, its device and its parameter dtype.
type BuildOptions =
    { Seed: int64
      Device: Device
      DType: DType }

    /// Seed 0, CPU, float32.
    static member Default = { Seed = 0L; Device = Device.Cpu; DType = DType.Float32 }

/// A built model: the layer, its input and output shapes, its parameters and state, and summary rows.
/// Parameters and state are immutable trees; training returns new ones.
type Model =
    { Layer: Layer
      Input: Shape
      Output: Shape
      Params: Params
      State: Params
      Info: LayerInfo
      Device: Device }

/// Building models (shape inference and parameter creation) and applying them.
module Model =
    /// Builds `layer` for per-sample inputs of `inputShape` (channels first, no batch dimension). Fails
    /// with a ShapeError naming the layer path, its type, both shapes and a hint when shapes do not fit.
    let buildWith (options: BuildOptions) (inputShape: Shape) (layer: Layer) : Model =
        use scope = DisposeScope.Enter()
        let root = Option.defaultValue "" layer.Name
        let ctx = { Rng = Rng.seed options.Seed; Input = inputShape; Path = root; Device = options.Device; DType = options.DType }
        let b = layer.Init ctx
        let scoped t = if root = "" then t else Tree.node [ root, t ]
        let ps, st = scoped b.Params, scoped b.State
        Params.moveOut scope ps |> ignore
        Params.moveOut scope st |> ignore
        { Layer = (if root = "" then layer else { layer with Apply = fun a v -> let y, s = layer.Apply { a with Params = Tree.child root a.Params; State = Tree.child root a.State } v in y, Tree.node [ root, s ] })
          Input = inputShape
          Output = b.Output
          Params = ps
          State = st
          Info = { Name = (if root = "" then Layer.autoName layer.Kind else root); Kind = layer.Kind; Output = b.Output; Params = ps; State = st; Children = b.Children }
          Device = options.Device }

    /// Builds with seed 0 on the CPU for per-sample inputs of the given dims: `Model.build [1L; 28L; 28L] net`.
    let build (inputShape: int64 list) (layer: Layer) : Model = buildWith BuildOptions.Default (Shape.Dims inputShape) layer

    /// Builds with the given seed on the CPU.
    let buildSeeded (seed: int64) (inputShape: int64 list) (layer: Layer) : Model =
        buildWith { BuildOptions.Default with Seed = seed } (Shape.Dims inputShape) layer

    /// Applies the model's layer to a batch with explicit parameters, state, mode and key; returns the
    /// output and the new state.
    let applyWith (m: Model) (ps: Params) (state: Params) (mode: Mode) (rng: Rng) (x: Value) : Value * Params =
        m.Layer.Apply { Params = ps; State = state; Mode = mode; Rng = rng } x

    /// Applies the model in Eval mode to a batch tensor and returns its (single) output tensor.
    let forward (m: Model) (x: Tensor) : Tensor =
        applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x) |> fst |> Value.tensor

    /// Applies the model in Eval mode and returns every output (for multi-head models).
    let forwardValue (m: Model) (x: Tensor) : Value =
        applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x) |> fst

    /// A copy of the model with other parameters (same structure).
    let withParams (ps: Params) (m: Model) : Model = { m with Params = ps }

    /// A copy of the model with other state.
    let withState (st: Params) (m: Model) : Model = { m with State = st }

    /// Total number of parameters, counting state (BatchNorm running statistics) as Keras does.
    let countParams (m: Model) : int64 = Params.numel m.Params + Params.numel m.State

    /// Parameters that training updates.
    let trainableParams (m: Model) : int64 = Params.trainableNumel m.Params

    /// Frozen parameters plus state.
    let nonTrainableParams (m: Model) : int64 = countParams m - trainableParams m

    /// Size of parameters and state in megabytes (2^20 bytes).
    let sizeMB (m: Model) : float = float (Params.bytes m.Params + Params.bytes m.State) / 1048576.0

    /// Frees the model's parameter and state tensors.
    let dispose (m: Model) =
        Params.dispose m.Params
        Params.dispose m.State
