namespace Dsl

open System.IO
open Dsl.Engine
open Dsl.Engine.IO

/// How the names of loaded weights become Dsl tree paths.
[<RequireQualifiedAccess>]
type WeightNames =
    /// A source name is the path ("fc1.weight" loads into "fc1.weight").
    | Same
    /// Source name → path for the names listed; other names are kept.
    | Table of (string * string) list
    /// A function from source name to path.
    | Rename of (string -> string)

/// Options of `Model.loadWeights`.
type LoadWeightsOptions = {
    /// Raise on the first missing, unexpected or wrongly shaped weight (nothing is loaded then); otherwise load what fits
    /// and report the rest, as PyTorch's load_state_dict(strict=False).
    Strict: bool
    Names: WeightNames
} with

    /// Strict, names as they are.
    static member Default = { Strict = true; Names = WeightNames.Same }

/// What `Model.loadWeights` did, as PyTorch's load_state_dict reports it.
type LoadReport = {
    /// The model paths (parameters and state) that received a value.
    Loaded: string list
    /// The model paths that no source weight maps to (they keep their values).
    Missing: string list
    /// The source names that map to no model path.
    Unexpected: string list
    /// (model path, source shape, model shape) of the weights whose shapes differ (not loaded).
    WrongShape: (string * int64 list * int64 list) list
    /// Source names ignored on purpose: BatchNorm's num_batches_tracked counter, which Dsl's batch norm does not keep.
    Ignored: string list
}

/// Weight files trained elsewhere, read into (name, tensor) lists: PyTorch state dicts (.pth/.pt, the zip format;
/// pickles are checked so that loading never runs code), safetensors files, and Keras HDF5 weights (converted to
/// PyTorch's layout and names, see Dsl.Engine.IO.KerasWeights).
module Weights =
    let private hdf5Magic = [| 0x89uy; byte 'H'; byte 'D'; byte 'F'; 0x0duy; 0x0auy; 0x1auy; 0x0auy |]

    /// Reads a weight file by its content: a zip or pickle is PyTorch's, an HDF5 file Keras's, anything else safetensors.
    /// The caller owns the tensors (`Weights.dispose`).
    let read (path: string) : (string * Tensor) list =
        if not (File.Exists path) then raise (FileNotFoundException(sprintf "Weights.read: no file at '%s'" path, path))
        let head =
            use f = File.OpenRead path
            let b = Array.zeroCreate 8
            let n = f.Read(b, 0, 8)
            b.[.. n - 1]
        let all =
            if head.Length >= 2 && (head.[0] = byte 'P' && head.[1] = byte 'K' || head.[0] = 0x80uy) then PyTorchWeights.Load path
            elif head = hdf5Magic then KerasWeights.Load path
            else Safetensors.Load path
        [ for kv in all -> kv.Key, kv.Value ]

    /// Frees the tensors of a list that `read` returned.
    let dispose (weights: (string * Tensor) list) = weights |> List.iter (fun (_, t) -> t.Dispose())

    let internal rename (names: WeightNames) : string -> string =
        match names with
        | WeightNames.Same -> id
        | WeightNames.Table pairs ->
            let m = Map.ofList pairs
            fun n -> Map.tryFind n m |> Option.defaultValue n
        | WeightNames.Rename f -> f

    let internal dims (t: Tensor) = List.ofArray t.Shape

    let internal show (d: int64 list) = "[" + String.concat ", " (List.map string d) + "]"

/// Loading weights into built models.
[<AutoOpen>]
module ModelWeights =
    type Model with
        /// Loads weights from a source (source name → tensor, as `Weights.read` returns) into the model's parameters AND
        /// state (BatchNorm running statistics), renaming sources by `options.Names`. Every problem is found before
        /// anything is copied: strict mode raises naming the first one (a wrong shape with both shapes, else a missing
        /// path, else an unexpected name) and changes nothing; otherwise what fits is copied in (converted to the model's
        /// dtype and device) and the report lists the rest. Two sources mapping to one path always raise.
        /// num_batches_tracked is ignored. The source tensors are not freed.
        static member loadWeights (options: LoadWeightsOptions) (source: (string * Tensor) list) (m: Model) : LoadReport =
            let targets = Tree.toList m.Params @ Tree.toList m.State
            let byPath = Map.ofList targets
            let rename = Weights.rename options.Names
            let mapped = source |> List.map (fun (n, t) -> n, rename n, t)
            match mapped |> List.countBy (fun (_, p, _) -> p) |> List.tryFind (fun (_, c) -> c > 1) with
            | Some(p, _) ->
                let from = mapped |> List.filter (fun (_, q, _) -> q = p) |> List.map (fun (n, _, _) -> "'" + n + "'")
                invalidArg "source" (sprintf "Model.loadWeights: %s all map to '%s'; give each model path one source (fix the name map)" (String.concat ", " from) p)
            | None -> ()
            let fits, wrong, unexpected, ignored =
                mapped
                |> List.fold
                    (fun (fits, wrong, unexpected, ignored) (n, p, t: Tensor) ->
                        match Map.tryFind p byPath with
                        | Some(dst: Tensor) when dst.Shape = t.Shape -> (p, dst, t) :: fits, wrong, unexpected, ignored
                        | Some dst -> fits, (p, Weights.dims t, Weights.dims dst) :: wrong, unexpected, ignored
                        | None when n.EndsWith "num_batches_tracked" -> fits, wrong, unexpected, n :: ignored
                        | None -> fits, wrong, n :: unexpected, ignored)
                    ([], [], [], [])
            let fits, wrong, unexpected, ignored = List.rev fits, List.rev wrong, List.rev unexpected, List.rev ignored
            let covered = mapped |> List.map (fun (_, p, _) -> p) |> Set.ofList
            let missing = targets |> List.map fst |> List.filter (fun p -> not (covered.Contains p))
            if options.Strict then
                let fail what =
                    raise (
                        InvalidDataException(
                            sprintf
                                "Model.loadWeights (strict): %s (%d wrong shapes, %d missing, %d unexpected). Nothing was loaded. Fix the name map (WeightNames), build the architecture the weights were trained with, or use Strict = false to load what fits."
                                what
                                wrong.Length
                                missing.Length
                                unexpected.Length
                        )
                    )
                match wrong, missing, unexpected with
                | (p, s, d) :: _, _, _ -> fail (sprintf "'%s' has shape %s in the weights but %s in the model" p (Weights.show s) (Weights.show d))
                | [], p :: _, _ -> fail (sprintf "the model's '%s' (shape %s) has no weight in the source" p (Weights.show (Weights.dims byPath.[p])))
                | [], [], n :: _ ->
                    fail (sprintf "the source's '%s' (shape %s) matches no path of the model" n (source |> List.find (fst >> (=) n) |> snd |> Weights.dims |> Weights.show))
                | [], [], [] -> ()
            (use _ = Autograd.NoGrad()
             for (_, dst, src) in fits do
                 dst.Copy_(src) |> ignore)
            { Loaded = fits |> List.map (fun (p, _, _) -> p); Missing = missing; Unexpected = unexpected; WrongShape = wrong; Ignored = ignored }
