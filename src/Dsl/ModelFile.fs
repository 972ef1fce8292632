namespace Dsl

open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Dsl.Engine
open Dsl.Engine.IO

/// Model files: a model's parameters and state in one safetensors file (written atomically, with the SHA-256 of the
/// data), whose metadata "dsl.model" holds a JSON description of the architecture: input and output shapes, every
/// parameter and state path with its shape and dtype, the frozen paths and the summary rows. A layer is an F#
/// function, so loading takes the architecture (`Model.load path layer` builds it for the saved input shape) and checks
/// it against the description: the first path whose shape differs is named with both shapes, and nothing is loaded.
[<AutoOpen>]
module ModelFiles =
    /// The model file format written in the metadata.
    [<Literal>]
    let ModelFormat = "dsl-model-1"

    /// The metadata key holding the description.
    [<Literal>]
    let ModelMetadataKey = "dsl.model"

    let private arr (xs: JsonNode seq) : JsonNode =
        let a = JsonArray()
        for x in xs do
            a.Add x
        a

    let private str (s: string) : JsonNode = nonNull (JsonValue.Create s)

    let rec private shapeJson (s: Shape) : JsonNode =
        match s with
        | Shape.Dims d -> arr [ for x in d -> JsonValue.Create x ]
        | Shape.Heads hs ->
            let o = JsonObject()
            for n, h in hs do
                o.[n] <- shapeJson h
            o

    let rec private shapeOf (n: JsonNode) : Shape =
        match n with
        | :? JsonArray as a -> Shape.Dims [ for x in a -> (nonNull x).GetValue<int64>() ]
        | :? JsonObject as o -> Shape.Heads [ for kv in o -> kv.Key, shapeOf (nonNull kv.Value) ]
        | _ -> raise (JsonException "a shape is an array of sizes or an object of named shapes")

    let private obj (pairs: (string * JsonNode) list) : JsonNode =
        let o = JsonObject()
        for k, v in pairs do
            o.[k] <- v
        o

    let private entries (t: Params) =
        arr [ for p, x in Tree.toList t -> obj [ "path", str p; "shape", shapeJson (Shape.Dims(List.ofArray x.Shape)); "dtype", str (x.DType.Name()) ] ]

    let private fail (path: string) (what: string) = raise (InvalidDataException(sprintf "model file: '%s' %s." path what))

    type Model with
        /// The JSON description `Model.save` writes: format, input, output, params and state (path, shape, dtype),
        /// frozen paths and the summary rows (name, kind, output, params).
        static member describe(m: Model) : string =
            let root = JsonObject()
            root.["format"] <- str ModelFormat
            root.["input"] <- shapeJson m.Input
            root.["output"] <- shapeJson m.Output
            root.["params"] <- entries m.Params
            root.["state"] <- entries m.State
            root.["frozen"] <- arr [ for p in m.Frozen -> str p ]
            root.["summary"] <-
                arr [
                    for (name, kind, output, count) in Summary.table m -> obj [ "name", str name; "kind", str kind; "output", shapeJson output; "params", JsonValue.Create count ]
                ]
            root.ToJsonString()

        /// Saves the model's parameters, state and description to `path` (one safetensors file, written atomically).
        static member save (path: string) (m: Model) : unit = TreeFile.write path m.Params m.State [] [ ModelMetadataKey, Model.describe m ]

        /// The input shape, output shape and frozen paths a model file records (its tensors are not read).
        static member private readDescription(path: string) : Shape * Shape * string list =
            if not (File.Exists path) then raise (FileNotFoundException(sprintf "model file: no file at '%s'" path, path))
            let json =
                match (Safetensors.LoadMetadata path).TryGetValue ModelMetadataKey with
                | true, j -> j
                | _ ->
                    fail
                        path
                        (sprintf
                            "is a safetensors file without the '%s' description of a Dsl model file; for weights without one use Weights.read and Model.loadWeights"
                            ModelMetadataKey)
            try
                let root = (nonNull (JsonNode.Parse json)).AsObject()
                let format = (nonNull root.["format"]).GetValue<string>()
                if format <> ModelFormat then fail path (sprintf "has format '%s'; this version reads '%s'" format ModelFormat)
                shapeOf (nonNull root.["input"]), shapeOf (nonNull root.["output"]), [ for p in (nonNull root.["frozen"]).AsArray() -> (nonNull p).GetValue<string>() ]
            with
            | :? JsonException
            | :? System.InvalidOperationException
            | :? System.FormatException as e -> fail path (sprintf "has an unreadable description (%s)" e.Message)

        /// Copies a model file's parameters and state into `m` after checking the file's hash and that its input shape,
        /// output shape and every path and shape match the model; the first difference is named (path and both shapes)
        /// and nothing is changed then.
        static member loadInto (path: string) (m: Model) : unit =
            let input, output, _ = Model.readDescription path
            if input <> m.Input then fail path (sprintf "was saved for inputs %O, but the model takes %O; build the model for the saved input shape" input m.Input)
            let ps, st = TreeFile.trees (List.ofSeq (Safetensors.Load path))
            try
                match Model.mismatch m.Params ps, Model.mismatch m.State st with
                | Some why, _ -> fail path (sprintf "does not fit the architecture: in its parameters %s" why)
                | _, Some why -> fail path (sprintf "does not fit the architecture: in its state %s" why)
                | None, None -> ()
                if output <> m.Output then fail path (sprintf "has outputs %O, but the model's are %O: it was saved from another architecture" output m.Output)
                use _ = Autograd.NoGrad()
                Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) m.Params ps |> ignore
                Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) m.State st |> ignore
            finally
                Params.dispose ps
                Params.dispose st

        /// Builds `layer` for the input shape a model file records (with `options`' device and dtype) and loads the file
        /// into it, checked as `loadInto` checks; the saved frozen paths stay frozen. A file saved from another
        /// architecture is refused naming the first differing path and both shapes.
        static member loadWith (options: BuildOptions) (path: string) (layer: Layer) : Model =
            let input, _, frozen = Model.readDescription path
            let m = Model.buildWith options input layer
            try
                Model.loadInto path m
                let m = { m with Frozen = m.Frozen + Set.ofList (frozen |> List.filter (fun p -> Tree.tryFind p m.Params |> Option.isSome)) }
                for p, t in Tree.toList m.Params do
                    t.RequiresGrad <- not (m.Frozen.Contains p)
                m
            with _ ->
                Model.dispose m
                reraise ()

        /// `loadWith` on the CPU in float32.
        static member load (path: string) (layer: Layer) : Model = Model.loadWith BuildOptions.Default path layer
