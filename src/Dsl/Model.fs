namespace Dsl

open Dsl.Engine

/// Where and how a model is built: the seed of its key, its device, its parameter dtype, and whether
/// initializers fill the parameters.
type BuildOptions = {
    Seed: int64
    Device: Device
    DType: DType
    /// False: weights are allocated but left unfilled (the OS commits no memory until they are written), for
    /// counting parameters and shapes of big models quickly, or before loading weights into every parameter.
    Initialize: bool
} with

    /// Seed 0, CPU, float32, initialised.
    static member Default = { Seed = 0L; Device = Device.Cpu; DType = DType.Float32; Initialize = true }

/// A built model: the layer, its input and output shapes, its parameters and state, summary rows, and
/// which parameters train. Parameters and state are immutable trees; training returns new ones.
type Model = {
    Layer: Layer
    Input: Shape
    Output: Shape
    Params: Params
    State: Params
    Info: LayerInfo
    Device: Device
    /// The paths of the parameters that do not train (from `frozen` layers, `Model.freeze`); every other
    /// parameter trains. Replacing or loading parameters keeps it.
    Frozen: Set<string>
}

/// Building models (shape inference and parameter creation) and applying them.
module Model =
    /// Builds `layer` for per-sample inputs of `inputShape` (channels first, no batch dimension). Fails
    /// with a ShapeError naming the layer path, its type, both shapes and a hint when shapes do not fit.
    let buildWith (options: BuildOptions) (inputShape: Shape) (layer: Layer) : Model =
        use scope = DisposeScope.Enter()
        let root = Option.defaultValue "" layer.Name
        let ctx = { Rng = Rng.seed options.Seed; Input = inputShape; Path = root; Device = options.Device; DType = options.DType; Initialize = options.Initialize }
        let b = layer.Init ctx
        let scoped t = if root = "" then t else Tree.node [ root, t ]
        let ps, st = scoped b.Params, scoped b.State
        Params.moveOut scope ps |> ignore
        Params.moveOut scope st |> ignore
        let frozen = Set.ofList (Layer.frozenOf root layer b)
        for p, t in Tree.toList ps do
            t.RequiresGrad <- not (frozen.Contains p)
        {
            Layer =
                (if root = "" then
                     layer
                 else
                     {
                         layer with
                             Apply = fun a v -> let y, s = layer.Apply { a with Params = Tree.child root a.Params; State = Tree.child root a.State } v in y, Tree.node [ root, s ]
                     })
            Input = inputShape
            Output = b.Output
            Params = ps
            State = st
            Info = { Name = (if root = "" then Layer.autoName layer.Kind else root); Kind = layer.Kind; Output = b.Output; Params = ps; State = st; Children = b.Children }
            Device = options.Device
            Frozen = frozen
        }

    /// Builds with seed 0 on the CPU for per-sample inputs of the given dims: `Model.build [1L; 28L; 28L] net`.
    let build (inputShape: int64 list) (layer: Layer) : Model = buildWith BuildOptions.Default (Shape.Dims inputShape) layer

    /// Builds with the given seed on the CPU.
    let buildSeeded (seed: int64) (inputShape: int64 list) (layer: Layer) : Model = buildWith { BuildOptions.Default with Seed = seed } (Shape.Dims inputShape) layer

    /// True when the parameter at `path` trains.
    let isTrainable (path: string) (m: Model) : bool = not (m.Frozen.Contains path)

    /// The parameters that train, as (path, tensor) pairs in tree order.
    let trainable (m: Model) : (string * Tensor) list = Tree.toList m.Params |> List.filter (fun (p, _) -> isTrainable p m)

    /// Applies the model's layer to a batch with explicit parameters, state, mode and key; returns the
    /// output and the new state. Frozen parameters are passed detached, so no gradient reaches them, and marked as
    /// `FrozenParameters` for the call (a frozen batch norm runs in inference mode).
    let applyWith (m: Model) (ps: Params) (state: Params) (mode: Mode) (rng: Rng) (x: Value) : Value * Params =
        if m.Frozen.IsEmpty then
            m.Layer.Apply { Params = ps; State = state; Mode = mode; Rng = rng } x
        else
            let ps = Tree.mapi (fun p (t: Tensor) -> if m.Frozen.Contains p then t.Detach() else t) ps
            use _ = FrozenParameters.Enter(Tree.toList ps |> List.filter (fun (p, _) -> m.Frozen.Contains p) |> List.map snd)
            m.Layer.Apply { Params = ps; State = state; Mode = mode; Rng = rng } x

    /// Applies the model in Eval mode to a batch tensor and returns its (single) output tensor, without recording
    /// autograd (as `predict`); use `applyWith` to differentiate through the model.
    let forward (m: Model) (x: Tensor) : Tensor =
        use _ = Autograd.NoGrad()
        applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x) |> fst |> Value.tensor

    /// Applies the model in Eval mode without recording autograd and returns every output (for multi-head models).
    let forwardValue (m: Model) (x: Tensor) : Value =
        use _ = Autograd.NoGrad()
        applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x) |> fst

    /// The model's summary rows with the tensors of `ps` and `st` in place of the model's own, so that `Info` shows
    /// the parameters the model holds.
    let private rebindInfo (m: Model) (ps: Params) (st: Params) : LayerInfo = List.exactlyOne (Surgery.swapTensors m.Params m.State ps st [ m.Info ])

    /// The model holding `ps` and `st` (trees of its structure, unchecked): what training and checkpoints use.
    let internal withLive (ps: Params) (st: Params) (m: Model) : Model = { m with Params = ps; State = st; Info = rebindInfo m ps st }

    /// The first difference between two trees of tensors (their paths, then each tensor's shape), or None
    /// when `actual` has the structure and shapes of `expected`.
    let mismatch (expected: Params) (actual: Params) : string option =
        let e, a = Tree.toList expected, Tree.toList actual
        let ea, aa = e |> List.map fst, a |> List.map fst
        match List.tryFind (fun p -> not (List.contains p aa)) ea, List.tryFind (fun p -> not (List.contains p ea)) aa with
        | Some p, _ -> Some(sprintf "'%s' is missing" p)
        | None, Some p -> Some(sprintf "'%s' is not a parameter of the model" p)
        | None, None when ea <> aa -> Some "the paths are in another order"
        | None, None ->
            List.zip e a
            |> List.tryPick (fun ((p, x: Tensor), (_, y: Tensor)) ->
                if x.Shape <> y.Shape then
                    Some(sprintf "'%s' has shape [%s] but the model's is [%s]" p (String.concat ", " (Array.map string y.Shape)) (String.concat ", " (Array.map string x.Shape)))
                else
                    None)

    /// A copy of the model with other parameters, which must have the model's paths and shapes (the first
    /// mismatch is named); which parameters train is kept.
    let withParams (ps: Params) (m: Model) : Model =
        match mismatch m.Params ps with
        | Some why ->
            invalidArg
                "ps"
                (sprintf "Model.withParams: the parameters do not fit the model: %s. Give a tree with the paths and shapes of model.Params (Tree.paths lists them)." why)
        | None -> withLive ps m.State m

    /// A copy of the model with other state (BatchNorm statistics), checked as `withParams` checks parameters.
    let withState (st: Params) (m: Model) : Model =
        match mismatch m.State st with
        | Some why -> invalidArg "st" (sprintf "Model.withState: the state does not fit the model: %s. Give a tree with the paths and shapes of model.State." why)
        | None -> withLive m.Params st m

    /// The parameter paths a pattern selects: a path itself, every path below it ("block1" selects
    /// "block1.conv.weight"), or a glob where `*` matches within one name and `**` across names
    /// ("*.bias", "features.**").
    let select (pattern: string) (m: Model) : string list =
        let paths = Tree.paths m.Params
        let regex =
            let body = System.Text.RegularExpressions.Regex.Escape(pattern).Replace(@"\*\*", "§").Replace(@"\*", "[^.]*").Replace("§", ".*")
            System.Text.RegularExpressions.Regex("^" + body + "(\\..*)?$")
        paths |> List.filter (fun p -> regex.IsMatch p)

    let private selected (op: string) (patterns: string list) (m: Model) =
        let chosen =
            patterns
            |> List.collect (fun pat ->
                match select pat m with
                | [] -> invalidArg "patterns" (sprintf "Model.%s: '%s' selects no parameter; paths are %s" op pat (String.concat ", " (Tree.paths m.Params)))
                | ps -> ps)
        Set.ofList chosen

    /// A copy of the model in which the parameters selected by the patterns (see `select`) do not train.
    let freeze (patterns: string list) (m: Model) : Model = { m with Frozen = m.Frozen + selected "freeze" patterns m }

    /// A copy of the model in which the parameters selected by the patterns (see `select`) train.
    let unfreeze (patterns: string list) (m: Model) : Model = { m with Frozen = m.Frozen - selected "unfreeze" patterns m }

    /// Model surgery: the model with the layer at `path` (a sublayer's dotted path, "classifier" or "features.3")
    /// replaced by `layer`, which takes the path's name. Only what changed is built again: the containers on the path
    /// are remade, every other layer keeps its tensors (the very tensors of `m`, shared, with their values) and its
    /// trainability (frozen stays frozen) — unless the new part changed the shape it receives, in which case it is
    /// initialised afresh as the rest of a fresh build would be. The new part is initialised from `seed`: as
    /// `buildSeeded seed` initialises it in the new architecture. Shapes are inferred again (a ShapeError names a
    /// layer that no longer fits); a path that does not exist fails naming the layer paths that do. `m` is unchanged
    /// and still owns its replaced tensors (dispose them with `m` when it is no longer used; the kept ones are shared).
    let replaceSeeded (seed: int64) (path: string) (layer: Layer) (m: Model) : Model =
        let root = Option.defaultValue "" m.Layer.Name
        let relative = if root <> "" && path.StartsWith(root + ".") then path.Substring(root.Length + 1) else path
        let parts: BuiltParts = { Params = m.Params; State = m.State; Frozen = m.Frozen }
        let remade = Surgery.replace parts root relative layer m.Layer
        let dtype =
            match Tree.leaves m.Params with
            | t :: _ -> t.DType
            | [] -> DType.Float32
        buildWith { Seed = seed; Device = m.Device; DType = dtype; Initialize = true } m.Input remade

    /// `replaceSeeded 0L`: `Model.replace "classifier" (dense 4) model` gives a new four-class head, keeping the rest.
    let replace (path: string) (layer: Layer) (m: Model) : Model = replaceSeeded 0L path layer m

    /// Total number of parameters, counting state (BatchNorm running statistics) as Keras does.
    let countParams (m: Model) : int64 = Params.numel m.Params + Params.numel m.State

    /// Parameters that training updates.
    let trainableParams (m: Model) : int64 = trainable m |> List.sumBy (fun (_, t) -> t.Numel)

    /// Frozen parameters plus state.
    let nonTrainableParams (m: Model) : int64 = countParams m - trainableParams m

    /// Size of parameters and state in megabytes (2^20 bytes).
    let sizeMB (m: Model) : float = float (Params.bytes m.Params + Params.bytes m.State) / 1048576.0

    /// Frees the model's parameter and state tensors.
    let dispose (m: Model) =
        Params.dispose m.Params
        Params.dispose m.State
