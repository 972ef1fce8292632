namespace Dsl

open Dsl.Engine

/// Ways to combine layers into bigger layers.
[<AutoOpen>]
module Combinators =
    /// Builds children in order, each with its own key and path, feeding each the previous output.
    let private initChain (ctx: InitContext) (names: string list) (layers: Layer list) : Built =
        let keys = Rng.splitN (List.length layers) ctx.Rng
        let folder (input, ps, ss, infos, frozen, i) (name, layer: Layer) =
            let b = layer.Init { ctx with Rng = keys.[i]; Input = input; Path = Layer.path ctx.Path name }
            let info = { Name = name; Kind = layer.Kind; Output = b.Output; Params = b.Params; State = b.State; Children = b.Children }
            b.Output, (name, b.Params) :: ps, (name, b.State) :: ss, info :: infos, frozen @ Layer.frozenOf name layer b, i + 1
        let out, ps, ss, infos, frozen, _ = List.fold folder (ctx.Input, [], [], [], [], 0) (List.zip names layers)
        { Output = out; Params = Tree.node (List.rev ps); State = Tree.node (List.rev ss); Children = List.rev infos; Frozen = frozen }

    /// Builds each named branch on the same input, each with its own key and path.
    let private initBranches (ctx: InitContext) (branches: (string * Layer) list) =
        let keys = Rng.splitN (List.length branches) ctx.Rng
        branches |> List.mapi (fun i (n, l) -> n, l, l.Init { ctx with Rng = keys.[i]; Path = Layer.path ctx.Path n })

    /// The combined parameters, state and summary rows of built branches, with the given output shape.
    let private joinBranches (output: Shape) (built: (string * Layer * Built) list) : Built = {
        Output = output
        Params = Tree.node [ for (n, _, b) in built -> n, b.Params ]
        State = Tree.node [ for (n, _, b) in built -> n, b.State ]
        Children = [ for (n, l, b) in built -> { Name = n; Kind = l.Kind; Output = b.Output; Params = b.Params; State = b.State; Children = b.Children } ]
        Frozen = [
            for (n, l, b) in built do
                yield! Layer.frozenOf n l b
        ]
    }

    /// Applies each named branch to the same input; returns the outputs and the joined new state.
    let private applyBranches (a: ApplyContext) (branches: (string * Layer) list) (v: Value) =
        let keys = Rng.splitN (List.length branches) a.Rng
        let outs = branches |> List.mapi (fun i (n, l) -> n, l.Apply { a with Params = Tree.child n a.Params; State = Tree.child n a.State; Rng = keys.[i] } v)
        [ for (n, (y, _)) in outs -> n, y ], Tree.node [ for (n, (_, s)) in outs -> n, s ]

    // True when `u` is or contains the very tensor `t` (the same handle, not equal values).
    let rec private holds (t: Tensor) (u: Value) =
        match u with
        | Value.T ut -> obj.ReferenceEquals(t, ut)
        | Value.Heads hs -> hs |> List.exists (snd >> holds t)

    // True when some tensor of `x` is one of `u`'s.
    let rec private holdsAny (x: Value) (u: Value) =
        match x with
        | Value.T t -> holds t u
        | Value.Heads hs -> hs |> List.exists (fun (_, h) -> holdsAny h u)

    /// Applies `l` to `x`, an intermediate that the caller gives up. In inference (Eval, nothing recorded) an
    /// intermediate output is dead once the next layer has used it, so this frees it then, as PyTorch's reference
    /// counting does, instead of at the end of the caller's scope (ResNet18 on 64 images at 224×224 otherwise holds
    /// every activation, GBs), and runs the layer's in-place form where it has one and nobody else holds `x` (ReLU
    /// after batch norm overwrites it, as torchvision's `ReLU(inplace=True)` does). Elsewhere it is `l.Apply`.
    let applyGivenUp (a: ApplyContext) (l: Layer) (x: Value) : Value * Params =
        if a.Mode <> Eval || Autograd.IsGradEnabled then
            l.Apply a x
        else
            let apply =
                match Layer.inPlace l with
                | Some run when Layer.canOverwrite a.Mode x -> run
                | _ -> l.Apply
            let y, s = apply a x
            match x with
            | Value.T xt when not (holds xt y) -> xt.Dispose()
            | _ -> ()
            y, s

    /// `y + r`, the sum of a residual block whose input is `v`, main-branch output `y` and shortcut output `r`. In
    /// inference, when `y` is the main branch's own new tensor that nobody else holds, it adds `r` into `y`
    /// (torchvision's `out += identity`) and frees `r` unless it is the block's input.
    let residualAdd (mode: Mode) (v: Value) (y: Value) (r: Value) : Value =
        let yt, rt = Value.tensor y, Value.tensor r
        let eager = mode = Eval && not Autograd.IsGradEnabled
        let mine (t: Tensor) = not (holds t v)
        if eager && mine yt && not (obj.ReferenceEquals(yt, rt)) && yt.Shape = rt.Shape && yt.DType = rt.DType && Layer.canOverwrite mode y then
            yt.Add_ rt |> ignore
            if mine rt then rt.Dispose()
            y
        else
            let sum = yt + rt
            if eager then
                if mine yt then yt.Dispose()
                if mine rt && not (obj.ReferenceEquals(yt, rt)) then rt.Dispose()
            Value.T sum

    // When child i ends in a ReLU and child i + 1 is max pooling (and `Rewrites.PoolBeforeRelu` is on): child i's
    // apply without its ReLU.
    let private poolAfterRelu (kids: (string * Layer)[]) (i: int) =
        if Rewrites.PoolBeforeRelu && i + 1 < kids.Length then
            match Layer.reluRole (snd kids.[i]), Layer.reluRole (snd kids.[i + 1]) with
            | Some(EndsInRelu without), Some MaxOverWindows -> Some without
            | _ -> None
        else
            None

    /// Layers applied one after another (Keras Sequential). Unnamed children are named after their
    /// kind (dense, dense_1, …), and parameter paths use these names.
    let rec serial (layers: Layer list) : Layer =
        let names = Layer.childNames layers
        let pairs = List.zip names layers
        let keysOf (a: ApplyContext) = Rng.splitN (List.length layers) a.Rng
        {
            Layer.identity "Sequential" with
                Sublayers = pairs
                Rebuild = Some(fun kids -> serial [ for (n, l) in kids -> { l with Name = Some n } ])
                Init = fun ctx -> initChain ctx names layers
                Apply =
                    fun a v ->
                        let keys = keysOf a
                        // In inference (Eval, nothing recorded) an intermediate output is dead once the next layer has
                        // used it: free it then, as PyTorch's reference counting does, instead of at the end of the
                        // caller's scope. ResNet18 on 64 images at 224×224 otherwise holds every activation (GBs).
                        let eager = a.Mode = Eval && not Autograd.IsGradEnabled
                        let ctx i name = { a with Params = Tree.child name a.Params; State = Tree.child name a.State; Rng = keys.[i] }
                        // An output that is the serial's own input (an identity layer passed it through) is the caller's.
                        let applyTo c (l: Layer) x = if eager && not (holdsAny x v) then applyGivenUp c l x else l.Apply c x
                        let kids = Array.ofList pairs
                        let states = ResizeArray<string * Params>(kids.Length)
                        let rec run (x: Value) i =
                            if i = kids.Length then
                                x
                            else
                                let name, l = kids.[i]
                                let c = ctx i name
                                match poolAfterRelu kids i with
                                | Some without ->
                                    // Written: l (ending in ReLU), then max pooling. Run: l without its ReLU, the pooling,
                                    // a ReLU (`Rewrites.PoolBeforeRelu`): the same values and gradients, a quarter of the
                                    // ReLU's work behind a 2×2 pool. Intermediates are given up as between any two layers.
                                    let poolName, pool = kids.[i + 1]
                                    let pre, s = applyTo c { l with Apply = without } x
                                    let pooled, ps = applyTo (ctx (i + 1) poolName) pool pre
                                    let y, _ = applyTo c relu pooled
                                    states.Add(name, s)
                                    states.Add(poolName, ps)
                                    run y (i + 2)
                                | None ->
                                    let y, s = applyTo c l x
                                    states.Add(name, s)
                                    run y (i + 1)
                        let y = run v 0
                        y, Tree.node (List.ofSeq states)
        }

    // The layers an unnamed serial is made of (so that `>->` chains flatten); any other layer stands alone.
    let private flat (l: Layer) = if l.Kind = "Sequential" && l.Name.IsNone && l.Trainable then l.Sublayers |> List.map snd else [ l ]

    /// Serial composition as an operator: `conv2d 32 3 >-> relu >-> maxPool 2`. Chains flatten into
    /// one serial, so grouping does not change names, paths or shapes.
    let (>->) (a: Layer) (b: Layer) : Layer = serial (flat a @ flat b)

    /// Gives a layer a name: it becomes the layer's row name in summaries and scopes its parameter
    /// paths (`block1.conv.weight`).
    let named (name: string) (layer: Layer) : Layer =
        if System.String.IsNullOrWhiteSpace name || name.Contains "." then invalidArg "name" (sprintf "named: '%s' is not a valid name (non-empty, no dots)" name)
        { layer with Name = Some name }

    /// Fan-out: the same input goes to every head; the output is the heads' outputs by name
    /// (for example an hour head and a minute head on one trunk).
    let rec fanOut (heads: (string * Layer) list) : Layer =
        let names = List.map fst heads
        if List.length (List.distinct names) <> List.length names then invalidArg "heads" (sprintf "fanOut: head names must be distinct: %A" names)
        {
            Layer.identity "FanOut" with
                Sublayers = heads
                Rebuild = Some fanOut
                Init =
                    fun ctx ->
                        let built = initBranches ctx heads
                        joinBranches (Shape.Heads [ for (n, _, b) in built -> n, b.Output ]) built
                Apply =
                    fun a v ->
                        let outs, state = applyBranches a heads v
                        Value.Heads outs, state
        }

    /// x + f(x): the branch must keep the shape of its input.
    let rec residual (branch: Layer) : Layer = {
        Layer.identity "Residual" with
            Sublayers = [ "", branch ]
            Rebuild =
                Some(fun kids ->
                    match kids with
                    | [ "", b ] -> residual b
                    | _ -> invalidArg "kids" "residual: rebuilt with one unnamed branch")
            Init =
                fun ctx ->
                    let b = branch.Init ctx
                    if b.Output <> ctx.Input then
                        raise (
                            ShapeError(
                                ctx.Path,
                                "Residual",
                                ctx.Input,
                                sprintf "a branch that keeps the shape, but it outputs %O" b.Output,
                                "use padding Same and the same channel count in the branch, or project the shortcut"
                            )
                        )
                    { b with Frozen = Layer.frozenOf "" branch b }
            Apply =
                fun a v ->
                    let y, s = branch.Apply a v
                    residualAdd a.Mode v y v, s
    }

    /// Fan-out to every layer, then concatenation of their outputs along per-sample `axis` (0 = channels).
    let rec concat (axis: int) (layers: Layer list) : Layer =
        let branches = List.zip (Layer.childNames layers) layers
        {
            Layer.identity "Concatenate" with
                Sublayers = branches
                Rebuild = Some(fun kids -> concat axis [ for (n, l) in kids -> { l with Name = Some n } ])
                Init =
                    fun ctx ->
                        let built = initBranches ctx branches
                        let dims =
                            built
                            |> List.map (fun (n, _, b) ->
                                match b.Output with
                                | Shape.Dims d -> d
                                | s -> raise (ShapeError(Layer.path ctx.Path n, "Concatenate", s, "single tensors", "concat joins single outputs")))
                        let rank = List.length (List.head dims)
                        if axis < 0 || axis >= rank then
                            raise (Layer.shapeError ctx "Concatenate" (sprintf "an axis in [0, %d)" rank) "axis counts per-sample dimensions, 0 is channels")
                        let others d = d |> List.indexed |> List.filter (fst >> (<>) axis) |> List.map snd
                        if dims |> List.exists (fun d -> List.length d <> rank || others d <> others (List.head dims)) then
                            raise (
                                ShapeError(
                                    ctx.Path,
                                    "Concatenate",
                                    ctx.Input,
                                    sprintf "branch outputs that agree except on axis %d, got %A" axis dims,
                                    "make the branches produce matching sizes"
                                )
                            )
                        let total = dims |> List.sumBy (fun d -> d.[axis])
                        joinBranches (Shape.Dims(List.head dims |> List.mapi (fun i x -> if i = axis then total else x))) built
                Apply =
                    fun a v ->
                        let outs, state = applyBranches a branches v
                        Value.T(Torch.Cat([| for (_, y) in outs -> Value.tensor y |], int64 (axis + 1))), state
        }

    /// A frozen layer (Keras's `trainable = False`): its parameters do not train. The model records their
    /// paths (`Model.isTrainable`), so `fit` leaves them out of the optimizer, applying the model passes them
    /// detached (no gradient reaches them) and summaries count them as non-trainable; `Model.unfreeze` makes
    /// them train again.
    let frozen (layer: Layer) : Layer = { layer with Trainable = false }
