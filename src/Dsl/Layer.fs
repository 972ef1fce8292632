namespace Dsl

open Dsl.Engine

/// Train or Eval, chosen when a model is applied (dropout and batch norm behave differently).
type Mode =
    | Train
    | Eval

/// The shape of one sample (without the batch dimension), or of a model's named outputs.
[<RequireQualifiedAccess>]
type Shape =
    /// A tensor shape such as [1; 28; 28] (channels first).
    | Dims of int64 list
    /// Several named outputs (for example an hour head and a minute head).
    | Heads of (string * Shape) list

    override this.ToString() =
        match this with
        | Shape.Dims d -> "(" + String.concat ", " ("None" :: List.map string d) + ")"
        | Shape.Heads hs -> "{" + String.concat ", " [ for (n, s) in hs -> n + ": " + string s ] + "}"

/// What flows between layers: a batch tensor, or named outputs of several heads.
[<RequireQualifiedAccess>]
type Value =
    /// A batch: the first dimension is the batch.
    | T of Tensor
    /// Named outputs, in order.
    | Heads of (string * Value) list

/// Accessors for values.
module Value =
    /// The tensor of a single-output value; fails naming what was found instead.
    let tensor (v: Value) : Tensor =
        match v with
        | Value.T t -> t
        | Value.Heads hs -> invalidArg "v" (sprintf "Value.tensor: expected one tensor but the model has heads %A; use Value.head \"name\"" (List.map fst hs))

    /// The output of the head named `name`.
    let head (name: string) (v: Value) : Value =
        match v with
        | Value.Heads hs ->
            match List.tryFind (fst >> (=) name) hs with
            | Some(_, x) -> x
            | None -> invalidArg "name" (sprintf "Value.head: no head '%s'; heads are %A" name (List.map fst hs))
        | Value.T _ -> invalidArg "v" "Value.head: the value is a single tensor, not named heads"

    /// The two outputs of a two-head model, as a tuple of tensors.
    let pair (v: Value) : Tensor * Tensor =
        match v with
        | Value.Heads [ (_, a); (_, b) ] -> tensor a, tensor b
        | _ -> invalidArg "v" "Value.pair: expected exactly two heads"

    /// Every tensor in the value, in order.
    let rec tensors (v: Value) : Tensor list =
        match v with
        | Value.T t -> [ t ]
        | Value.Heads hs -> hs |> List.collect (snd >> tensors)

    /// The per-sample shape of a value (its tensors' shapes without the batch dimension).
    let rec shape (v: Value) : Shape =
        match v with
        | Value.T t -> Shape.Dims(List.ofArray t.Shape |> List.tail)
        | Value.Heads hs -> Shape.Heads(hs |> List.map (fun (n, x) -> n, shape x))

/// Raised by `Model.build` when a layer cannot take the shape it is given. The message holds the
/// layer path, the layer type, the shape received, the shape expected and a hint.
exception ShapeError of path: string * kind: string * received: Shape * expected: string * hint: string with
    override this.Message =
        sprintf "Layer '%s' (%s) received input shape %O but expects %s. Hint: %s" (if this.path = "" then "<model>" else this.path) this.kind this.received this.expected this.hint

/// One row of a model summary: a layer's name, type, output shape and parameter counts, with its sublayers.
type LayerInfo = { Name: string; Kind: string; Output: Shape; Params: Params; State: Params; Children: LayerInfo list }

/// What a layer's init receives: its key, its input shape, its path in the model (for errors), the
/// device and dtype its parameters live on, and whether initializers fill them (false: allocated only).
type InitContext = {
    Rng: Rng
    Input: Shape
    Path: string
    Device: Device
    DType: DType
    /// False when parameters are only allocated, not filled (`BuildOptions.Initialize`).
    Initialize: bool
}

/// What a layer's init returns: its output shape, parameters, state, sublayer rows for summaries, and the
/// paths (within its parameters) of the parameters that do not train.
type Built = {
    Output: Shape
    Params: Params
    State: Params
    Children: LayerInfo list
    /// Paths relative to this layer's parameters, e.g. "weight" or "conv.bias" (`frozen` fills it).
    Frozen: string list
}

/// What a layer's apply receives besides the input: its parameters and state, the mode and a key.
type ApplyContext = { Params: Params; State: Params; Mode: Mode; Rng: Rng }

/// Something said about a layer's `Apply` (its in-place form, its `ReluRole`), tied to the `Apply` it was said of
/// (`Of`). A layer whose `Apply` is later replaced (`{ l with Apply = … }`) keeps a stale one whose `Of` no longer is
/// its `Apply`, and `Layer.inPlace` / `Layer.reluRole` then ignore it.
type OfApply<'T> = { Of: ApplyContext -> Value -> Value * Params; Item: 'T }

/// What a layer is to ReLU, for `serial`'s rewrite that runs max pooling before a ReLU instead of after it
/// (`Rewrites.PoolBeforeRelu`).
type ReluRole =
    /// The layer's last step is a ReLU; `Without` computes the layer without it (a ReLU layer: the identity; a
    /// convolution with `Activation = relu`: the convolution alone), with the same parameters and state.
    | EndsInRelu of Without: (ApplyContext -> Value -> Value * Params)
    /// The layer takes maxima over windows of its input (max pooling, with -∞ or no padding): it commutes with ReLU.
    | MaxOverWindows

/// A layer: a pure description with an init (shape inference, parameters, state) and an apply
/// (parameters, state, input, mode, key → output, new state). Layers hold no tensors themselves;
/// the same layer value can be built many times.
type Layer = {
    /// The layer type shown in summaries ("Dense", "Conv2D", ...).
    Kind: string
    /// The name given with `named`; otherwise the container names it after its kind.
    Name: string option
    /// Shape inference and parameter creation.
    Init: InitContext -> Built
    /// The forward computation; returns the output and the new state.
    Apply: ApplyContext -> Value -> Value * Params
    /// A container's children with the names that scope their parameters (empty for other layers; the
    /// name "" means the child's parameters are the container's own, as in `residual`).
    Sublayers: (string * Layer) list
    /// False for a layer whose parameters do not train (`frozen`, Keras's `trainable = False`).
    Trainable: bool
    /// The activation the layer applies last, by kind ("Softmax"): an activation layer's own, or the one given
    /// to dense or conv as an option. `fit` reads it to warn about softmax before a loss that takes logits.
    OutputActivation: string option
    /// A container's way to remake itself with other sublayers (the same names, in `Sublayers` order), which
    /// `Model.replace` uses; None for a layer that cannot be remade (a leaf, or a container that does not say how).
    Rebuild: ((string * Layer) list -> Layer) option
    /// In inference, the same computation as `Apply` allowed to overwrite its input (PyTorch's `inplace=True`);
    /// `serial` offers it each dead intermediate; it may overwrite its input tensor, which the caller gives up. Set it
    /// with `Layer.withInPlace`; None for most layers.
    InPlace: OfApply<ApplyContext -> Value -> Value * Params> option
    /// What the layer is to ReLU (`ReluRole`), which lets `serial` max-pool before a ReLU; None for most layers. Set
    /// it with `Layer.withReluRole`.
    Relu: OfApply<ReluRole> option
}

/// Switches of the DSL's own rewrites (the engine's switches are on `Torch`).
[<AbstractClass; Sealed>]
type Rewrites =
    /// When true (the default; DSL_POOL_BEFORE_RELU=0 turns the default off), `serial` runs a layer that ends in a
    /// ReLU and the max pooling after it as: the layer without its ReLU, the pooling, then the ReLU. Max pooling
    /// commutes with ReLU — max(max(0, x), max(0, y)) = max(0, max(x, y)) — and the gradient reaches the same input
    /// element either way (the window's first maximum when it is positive, none otherwise), so values and gradients
    /// are those of the order written, bit for bit, while the ReLU and its gradient touch a quarter of the elements
    /// behind a 2×2 pool and the full-size ReLU output is never made. Measured: bench/README.md, "ReLU before max pooling".
    static member val PoolBeforeRelu: bool = (System.Environment.GetEnvironmentVariable "DSL_POOL_BEFORE_RELU" <> "0") with get, set

/// The tensors that a model passes as frozen parameters while it is applied: `Model.applyWith` marks them for the
/// call, on its thread. A batch norm whose scale is among them runs in inference mode (Keras's rule for
/// `trainable = False`); a layer of your own can ask the same.
[<AbstractClass; Sealed>]
type FrozenParameters =
    [<System.ThreadStatic; DefaultValue>]
    static val mutable private current: System.Collections.Generic.HashSet<Tensor> | null

    /// True when `t` is a frozen parameter of the model being applied on this thread.
    static member Contains(t: Tensor) : bool =
        match FrozenParameters.current with
        | null -> false
        | s -> s.Contains t

    /// Marks `tensors` as frozen on this thread until the result is disposed (which restores the previous marks).
    static member internal Enter(tensors: Tensor seq) : System.IDisposable =
        let previous = FrozenParameters.current
        let set = System.Collections.Generic.HashSet<Tensor>(tensors, HashIdentity.Reference)
        match previous with
        | null -> ()
        | p -> set.UnionWith p
        FrozenParameters.current <- set
        {
            new System.IDisposable with
                member _.Dispose() = FrozenParameters.current <- previous
        }

/// Helpers for writing layers.
module Layer =
    /// Keras-style automatic name of a layer kind: Conv2D → conv2d, MaxPooling2D → max_pooling2d.
    let autoName (kind: string) =
        let sb = System.Text.StringBuilder()
        kind
        |> Seq.iteri (fun i c ->
            if
                i > 0
                && System.Char.IsUpper c
                && (System.Char.IsLower kind.[i - 1] || (i + 1 < kind.Length && System.Char.IsLower kind.[i + 1] && not (System.Char.IsDigit kind.[i - 1])))
            then
                sb.Append('_') |> ignore
            sb.Append(System.Char.ToLowerInvariant c) |> ignore)
        sb.ToString()

    /// Names for a list of children: their given names, or auto names numbered per kind (dense, dense_1, ...).
    let childNames (layers: Layer list) : string list =
        let counts = System.Collections.Generic.Dictionary<string, int>()
        let given = layers |> List.choose (fun l -> l.Name) |> Set.ofList
        layers
        |> List.map (fun l ->
            match l.Name with
            | Some n -> n
            | None ->
                let baseName = autoName l.Kind
                let rec next () =
                    let k =
                        match counts.TryGetValue baseName with
                        | true, k -> k
                        | _ -> 0
                    counts.[baseName] <- k + 1
                    let candidate = if k = 0 then baseName else sprintf "%s_%d" baseName k
                    if given.Contains candidate then next () else candidate
                next ())

    /// The single tensor shape of an input, or a ShapeError for named heads.
    let dims (ctx: InitContext) (kind: string) : int64 list =
        match ctx.Input with
        | Shape.Dims d -> d
        | s -> raise (ShapeError(ctx.Path, kind, s, "a single tensor", "this layer takes one input; select a head first"))

    /// A ShapeError for this layer.
    let shapeError (ctx: InitContext) (kind: string) (expected: string) (hint: string) = ShapeError(ctx.Path, kind, ctx.Input, expected, hint)

    /// A layer of the given kind that passes its input through unchanged, without parameters or state; other
    /// layers start from it and set their Init and Apply: `{ Layer.identity "Dense" with Init = …; Apply = … }`.
    let identity (kind: string) : Layer = {
        Kind = kind
        Name = None
        Init = fun ctx -> { Output = ctx.Input; Params = Tree.empty; State = Tree.empty; Children = []; Frozen = [] }
        Apply = fun a v -> v, a.State
        Sublayers = []
        Trainable = true
        OutputActivation = None
        Rebuild = None
        InPlace = None
        Relu = None
    }

    // What `said` says of the layer's current `Apply`, if it was said of that `Apply` (see `OfApply`).
    let private ofCurrent (said: OfApply<'T> option) (l: Layer) : 'T option =
        match said with
        | Some o when obj.ReferenceEquals(o.Of, l.Apply) -> Some o.Item
        | _ -> None

    /// The layer with an in-place form of its current `Apply` (see `Layer.InPlace`).
    let withInPlace (run: ApplyContext -> Value -> Value * Params) (l: Layer) : Layer = { l with InPlace = Some { Of = l.Apply; Item = run } }

    /// The layer's in-place form, if it has one for its current `Apply`.
    let inPlace (l: Layer) : (ApplyContext -> Value -> Value * Params) option = ofCurrent l.InPlace l

    /// The layer with a `ReluRole` for its current `Apply`.
    let withReluRole (role: ReluRole) (l: Layer) : Layer = { l with Relu = Some { Of = l.Apply; Item = role } }

    /// The layer's `ReluRole`, if it has one for its current `Apply`.
    let reluRole (l: Layer) : ReluRole option = ofCurrent l.Relu l

    /// True when `x` may be overwritten in place by a layer it is given to: inference (Eval, nothing recorded) and
    /// a tensor that nobody else holds or views (`Tensor.IsSoleOwner`). The caller must also be giving it up.
    let canOverwrite (mode: Mode) (x: Value) =
        mode = Eval
        && not Autograd.IsGradEnabled
        && (match x with
            | Value.T t -> t.IsSoleOwner
            | _ -> false)

    /// A layer without parameters or state, given its output-shape rule and its tensor function.
    let stateless (kind: string) (outShape: InitContext -> int64 list) (f: Mode -> Rng -> Tensor -> Tensor) : Layer = {
        identity kind with
            Init = fun ctx -> { Output = Shape.Dims(outShape ctx); Params = Tree.empty; State = Tree.empty; Children = []; Frozen = [] }
            Apply = fun a v -> Value.T(f a.Mode a.Rng (Value.tensor v)), a.State
    }

    /// Joins a parent path and a child name (an empty name adds nothing).
    let path (parent: string) (name: string) =
        if parent = "" then name
        elif name = "" then parent
        else parent + "." + name

    /// The frozen parameter paths of a built child, relative to its container: all of them when the child
    /// is not trainable, else those it reports itself; scoped by the child's name.
    let frozenOf (name: string) (layer: Layer) (b: Built) : string list = (if layer.Trainable then b.Frozen else Tree.paths b.Params) |> List.map (path name)
