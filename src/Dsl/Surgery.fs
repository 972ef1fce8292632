namespace Dsl

open Dsl.Engine

/// What a built model holds, for rewriting its layer: its parameters and state (full paths) and the paths of the
/// parameters that do not train.
type internal BuiltParts = { Params: Params; State: Params; Frozen: Set<string> }

/// Model surgery: a layer with the sublayer at a path replaced, whose other parts, once built, reuse the tensors of
/// the model they come from. `Model.replace` builds the result.
module internal Surgery =
    /// The subtree at `path` ("" is the whole tree), empty when absent.
    let private subtree (path: string) (t: Params) = Tree.tryFindTree path t |> Option.defaultValue Tree.empty

    /// The tree without the children named in `names` (the named siblings of an unnamed sublayer).
    let private without (names: string list) (t: Params) =
        match t with
        | Tree.Node kids -> Tree.node (kids |> List.filter (fun (n, _) -> not (List.contains n names)))
        | leaf -> leaf

    let private sameShapes (a: Params) (b: Params) =
        let la, lb = Tree.toList a, Tree.toList b
        List.map fst la = List.map fst lb && List.forall2 (fun (_, x: Tensor) (_, y: Tensor) -> x.Shape = y.Shape && x.DType = y.DType) la lb

    /// Summary rows with each tensor of `oldPs`/`oldSt` replaced by the tensor at the same place in `newPs`/`newSt`
    /// (trees of one structure); other tensors stay.
    let swapTensors (oldPs: Params) (oldSt: Params) (newPs: Params) (newSt: Params) (rows: LayerInfo list) : LayerInfo list =
        let swap = System.Collections.Generic.Dictionary<Tensor, Tensor>(HashIdentity.Reference)
        for a, b in List.zip (Tree.leaves oldPs) (Tree.leaves newPs) @ List.zip (Tree.leaves oldSt) (Tree.leaves newSt) do
            swap.[a] <- b
        let sw (t: Tensor) =
            match swap.TryGetValue t with
            | true, n -> n
            | _ -> t
        let rec go (i: LayerInfo) = { i with Params = Tree.map sw i.Params; State = Tree.map sw i.State; Children = List.map go i.Children }
        List.map go rows

    /// The summary rows of a probe with the kept tensors in place of the probe's.
    let private swapRows (probe: Built) (keptParams: Params) (keptState: Params) : LayerInfo list = swapTensors probe.Params probe.State keptParams keptState probe.Children

    /// The paths below `prefix` (relative to it) of a set of full paths.
    let private below (prefix: string) (paths: Set<string>) : string list = [
        for p in paths do
            if prefix = "" then yield p
            elif p.StartsWith(prefix + ".") then yield p.Substring(prefix.Length + 1)
    ]

    /// The layer at `prefix` (an unnamed sublayer when `siblings`, its container's named sublayers, are given) whose
    /// init returns the model's tensors when the input it is given still yields parameters and state of their paths,
    /// shapes and dtypes. Otherwise (an earlier change moved its input shape) a container is remade with each of its
    /// sublayers kept in the same way, and a leaf is initialised afresh from the key its container gives it, as a
    /// fresh build would initialise it.
    let rec private keep (parts: BuiltParts) (prefix: string) (siblings: string list) (layer: Layer) : Layer =
        let ps, st = without siblings (subtree prefix parts.Params), without siblings (subtree prefix parts.State)
        let frozen = below prefix parts.Frozen |> List.filter (fun p -> not (siblings |> List.exists (fun o -> p = o || p.StartsWith(o + "."))))
        {
            layer with
                Init =
                    fun ctx ->
                        let probe = layer.Init { ctx with Initialize = false }
                        let fits = sameShapes ps probe.Params && sameShapes st probe.State
                        let rows = if fits then swapRows probe ps st else []
                        Params.dispose probe.Params
                        Params.dispose probe.State
                        if fits then
                            { probe with Params = ps; State = st; Children = rows; Frozen = frozen }
                        else
                            match layer.Rebuild with
                            | Some rebuild when not (List.isEmpty layer.Sublayers) -> (remade parts prefix siblings layer rebuild (fun _ -> false) (fun _ _ -> layer)).Init ctx
                            | _ -> layer.Init ctx
        }

    /// The container at `prefix` remade with `rebuild`: the sublayer `isTarget` picks becomes `change`'s, every other is
    /// kept (`siblings`: the named sublayers of the containers above whose parameters share `prefix`).
    and private remade
        (parts: BuiltParts)
        (prefix: string)
        (siblings: string list)
        (layer: Layer)
        (rebuild: (string * Layer) list -> Layer)
        (isTarget: int -> bool)
        (change: int -> string * Layer -> Layer)
        : Layer =
        let named' = (layer.Sublayers |> List.map fst |> List.filter ((<>) "")) @ siblings
        let kids =
            layer.Sublayers
            |> List.mapi (fun i (n, l) ->
                if isTarget i then n, change i (n, l)
                elif n = "" then n, keep parts prefix named' l
                else n, keep parts (Layer.path prefix n) [] l)
        let r: Layer = rebuild kids
        { r with Kind = layer.Kind; Name = layer.Name; Trainable = layer.Trainable }

    /// True when the layer has a sublayer at the dotted path (looking through unnamed sublayers).
    let rec private has (segs: string list) (layer: Layer) : bool =
        match segs with
        | [] -> true
        | seg :: rest -> layer.Sublayers |> List.exists (fun (n, l) -> (n = seg && has rest l) || (n = "" && has segs l))

    /// Every sublayer path of a layer (unnamed sublayers add no name), in order.
    let rec layerPaths (prefix: string) (layer: Layer) : string list = [
        for (n, l) in layer.Sublayers do
            let p = Layer.path prefix n
            if n <> "" then yield p
            yield! layerPaths p l
    ]

    /// `layer` (the model's, whose parameters sit under `prefix`) with the sublayer at `path` replaced by
    /// `replacement` (named after the path's last name). Containers on the path are remade with their `Rebuild`;
    /// every other sublayer reuses the parts' tensors when built. Fails naming the paths that exist.
    let replace (parts: BuiltParts) (prefix: string) (path: string) (replacement: Layer) (layer: Layer) : Layer =
        let segs = List.ofArray (path.Split '.')
        let all = layerPaths "" layer
        if System.String.IsNullOrWhiteSpace path || List.exists System.String.IsNullOrEmpty segs || not (has segs layer) then
            let shown = List.truncate 40 all
            invalidArg
                "path"
                (sprintf
                    "Model.replace: the model has no layer at '%s'. Its layer paths are %s%s. Give one of them (Summary.renderWith { SummaryOptions.Default with Expand = true } shows the tree)."
                    path
                    (if List.isEmpty all then "none (the model is a single layer; build the new layer instead)" else String.concat ", " shown)
                    (if all.Length > shown.Length then sprintf ", … (%d in all)" all.Length else ""))
        let rec go (layer: Layer) (prefix: string) (siblings: string list) (segs: string list) : Layer =
            let rebuild =
                match layer.Rebuild with
                | Some r -> r
                | None ->
                    invalidArg
                        "path"
                        (sprintf
                            "Model.replace: '%s' lies inside '%s' (%s), which cannot be remade with another sublayer; replace '%s' itself"
                            path
                            (if prefix = "" then "<model>" else prefix)
                            layer.Kind
                            (if prefix = "" then path else prefix))
            let seg, rest = List.head segs, List.tail segs
            let target =
                match layer.Sublayers |> List.tryFindIndex (fun (n, l) -> n = seg && has rest l) with
                | Some i -> i
                | None -> layer.Sublayers |> List.findIndex (fun (n, l) -> n = "" && has segs l)
            let named' = (layer.Sublayers |> List.map fst |> List.filter ((<>) "")) @ siblings
            remade parts prefix siblings layer rebuild ((=) target) (fun _ (n, l) ->
                if n = "" then go l prefix named' segs
                elif List.isEmpty rest then { replacement with Name = Some n }
                else go l (Layer.path prefix n) [] rest)
        go layer prefix [] segs
