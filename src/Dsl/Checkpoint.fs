namespace Dsl

open System.Collections.Generic
open System.IO
open System.Text.Json
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Engine.Optim

/// Safetensors files of a parameter tree and a state tree (tensors named "params.<path>" and "state.<path>", plus any
/// extra tensors), written atomically with the SHA-256 of their data; shared by checkpoints and model files.
module internal TreeFile =
    /// Writes the trees, the extra (name, tensor) pairs and the metadata to `file`, atomically, hashing the data.
    let write (file: string) (ps: Params) (state: Params) (extra: (string * Tensor) list) (metadata: (string * string) list) =
        let all = [
            for (p, t) in Tree.toList ps -> KeyValuePair("params." + p, t)
            for (p, t) in Tree.toList state -> KeyValuePair("state." + p, t)
            for (n, t) in extra -> KeyValuePair(n, t)
        ]
        Safetensors.Save(file, all, readOnlyDict metadata, hashData = true)

    /// The tensors whose names start with `prefix`, with the prefix removed.
    let pick (prefix: string) (tensors: KeyValuePair<string, Tensor> list) =
        tensors |> List.filter (fun kv -> kv.Key.StartsWith prefix) |> List.map (fun kv -> kv.Key.Substring prefix.Length, kv.Value)

    /// The parameter and state trees of loaded tensors.
    let trees (tensors: KeyValuePair<string, Tensor> list) : Params * Params =
        let tree prefix =
            let t = pick prefix tensors |> Tree.ofList
            if Tree.isEmpty t then Tree.empty else t
        tree "params.", tree "state."

/// What a checkpoint holds besides tensors: the counters, the optimizer's kind and the history of the epochs
/// trained so far (a resumed fit continues it, so its history and a CSV log hold every epoch once).
type CheckpointInfo = { Epoch: int; Step: int64; Optimizer: string; History: EpochLogs list }

/// Checkpoints: parameters, state, optimizer state and the epoch and step counters, in ONE file,
/// `<path>.safetensors`, whose metadata holds the counters and the optimizer's scalars (as JSON) and the SHA-256 of
/// the tensors' data. The file is written beside its target and renamed over it, so a checkpoint is always whole —
/// the previous one or the new one, never a mix — and temporary files left by an interrupted writer are removed at
/// the next save. Loading verifies the hash and every counter and setting before anything is used.
///
/// Which settings win on resume: the checkpoint's parameters, state, counters and optimizer state — including the
/// optimizer's hyper-parameters, such as its learning rate, as PyTorch's load_state_dict restores them — replace
/// the given ones, once checked (the optimizer must be of the saved kind, the learning rate finite and ≥ 0, betas in
/// [0, 1), step counts whole and ≥ 0). A learning-rate schedule callback then sets the rate of each later epoch
/// from the optimizer's base rate, as it would have without the interruption.
module Checkpoint =
    /// The checkpoint format written in the metadata.
    [<Literal>]
    let Format = "dsl-checkpoint-2"

    /// The metadata key holding the checkpoint's JSON.
    [<Literal>]
    let MetadataKey = "dsl.checkpoint"

    /// The file of a checkpoint path.
    let file (path: string) = path + ".safetensors"

    // A history may hold NaN or infinite losses: JSON has no literal for them, so they are written as strings.
    let private jsonOptions = JsonSerializerOptions(NumberHandling = Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals)

    let private fail (path: string) (what: string) =
        raise (
            InvalidDataException(sprintf "checkpoint: '%s' %s. Use a checkpoint written by Checkpoint.save (or Callback.modelCheckpoint), or train from scratch." (file path) what)
        )

    /// Saves parameters, state, the optimizer's state and the counters, atomically.
    let save (path: string) (ps: Params) (state: Params) (optimizer: Optimizer option) (info: CheckpointInfo) =
        if info.Epoch < 0 || info.Step < 0L then invalidArg "info" (sprintf "Checkpoint.save: epoch %d and step %d must be ≥ 0" info.Epoch info.Step)
        use scope = DisposeScope.Enter()
        let optTensors, optScalars =
            match optimizer with
            | Some o ->
                let struct (t, s) = o.GetState()
                List.ofSeq t, s |> Seq.map (fun (kv: KeyValuePair<string, float>) -> kv.Key, kv.Value) |> Map.ofSeq
            | None -> [], Map.empty
        let history = [
            for e in info.History -> dict [ "epoch", box e.Epoch; "seconds", box e.Seconds; "lr", box e.LearningRate; "values", box (dict [ for (k, v) in e.Values -> k, box v ]) ]
        ]
        let json =
            JsonSerializer.Serialize(
                dict [
                    "format", box Format
                    "epoch", box info.Epoch
                    "step", box info.Step
                    "optimizer", box info.Optimizer
                    "optimizer_scalars", box optScalars
                    "history", box history
                ],
                jsonOptions
            )
        TreeFile.write (file path) ps state [ for (kv: KeyValuePair<string, Tensor>) in optTensors -> "optim." + kv.Key, kv.Value ] [ MetadataKey, json ]

    /// The parsed metadata of a checkpoint: its counters and the optimizer's scalars, checked.
    let private readMeta (path: string) : CheckpointInfo * IDictionary<string, float> =
        let target = file path
        if not (File.Exists target) then raise (FileNotFoundException(sprintf "checkpoint: '%s' has no file %s (it was never written, or the path is wrong)" path target, target))
        let meta = Safetensors.LoadMetadata target
        let json =
            match meta.TryGetValue MetadataKey with
            | true, j -> j
            | _ -> fail path (sprintf "is a safetensors file without the '%s' metadata of a Dsl checkpoint" MetadataKey)
        use doc =
            try
                JsonDocument.Parse(json)
            with :? JsonException as e ->
                fail path (sprintf "has unreadable checkpoint metadata (%s)" e.Message)
        let root = doc.RootElement
        let prop (name: string) =
            match root.TryGetProperty name with
            | true, v -> v
            | _ -> fail path (sprintf "has no '%s' in its metadata" name)
        let format = (prop "format").ToString()
        if format <> Format then fail path (sprintf "has format '%s'; this version reads '%s'" format Format)
        let epoch =
            match (prop "epoch").TryGetInt32() with
            | true, e when e >= 0 -> e
            | _ -> fail path (sprintf "records epoch %s; it must be a whole number ≥ 0" ((prop "epoch").ToString()))
        let step =
            match (prop "step").TryGetInt64() with
            | true, s when s >= 0L -> s
            | _ -> fail path (sprintf "records step %s; it must be a whole number ≥ 0" ((prop "step").ToString()))
        let optimizer =
            match (prop "optimizer").GetString() with
            | null -> fail path "records no optimizer name"
            | s -> s
        let scalars = Dictionary<string, float>()
        for p in (prop "optimizer_scalars").EnumerateObject() do
            match p.Value.TryGetDouble() with
            | true, v when System.Double.IsFinite v -> scalars.[p.Name] <- v
            | _ -> fail path (sprintf "records optimizer scalar '%s' = %s; it must be a finite number" p.Name (p.Value.ToString()))
        let number (what: string) (v: JsonElement) =
            match v.ValueKind with
            | JsonValueKind.Number -> v.GetDouble()
            | JsonValueKind.String ->
                match v.GetString() with
                | "NaN" -> nan
                | "Infinity" -> infinity
                | "-Infinity" -> -infinity
                | _ -> fail path (sprintf "records %s = %s in its history; it must be a number" what (v.ToString()))
            | _ -> fail path (sprintf "records %s = %s in its history; it must be a number" what (v.ToString()))
        let history = [
            for e in (prop "history").EnumerateArray() ->
                let field (name: string) =
                    match e.TryGetProperty name with
                    | true, v -> v
                    | _ -> fail path (sprintf "has a history entry without '%s'" name)
                let epochOf =
                    match (field "epoch").TryGetInt32() with
                    | true, n when n >= 1 && n <= epoch -> n
                    | _ -> fail path (sprintf "has a history entry for epoch %s; it must be between 1 and the checkpoint's epoch %d" ((field "epoch").ToString()) epoch)
                {
                    Epoch = epochOf
                    Seconds = number "seconds" (field "seconds")
                    LearningRate = number "lr" (field "lr")
                    Values = [ for p in (field "values").EnumerateObject() -> p.Name, number p.Name p.Value ]
                }
        ]
        { Epoch = epoch; Step = step; Optimizer = optimizer; History = history }, scalars

    /// The counters of a checkpoint, without loading its tensors (checked as `load` checks them).
    let info (path: string) : CheckpointInfo = fst (readMeta path)

    /// Loads a checkpoint: parameters and state (as trees with the saved paths) and the counters, after checking the
    /// file's hash and metadata; with `optimizer`, which must be of the saved kind, its state is restored too (checked
    /// by the optimizer: shapes, learning rate, betas, steps). Nothing is changed when a check fails.
    let load (path: string) (optimizer: Optimizer option) : Params * Params * CheckpointInfo =
        let info, scalars = readMeta path
        match optimizer with
        | Some o when info.Optimizer <> o.Name ->
            fail path (sprintf "holds the state of a %s optimizer, not of the %s given; resume with the optimizer it was trained with" info.Optimizer o.Name)
        | _ -> ()
        let tensors = Safetensors.Load(file path) |> List.ofSeq
        try
            let pick (prefix: string) = TreeFile.pick prefix tensors
            let ps, st = TreeFile.trees tensors
            match optimizer with
            | Some o ->
                let optTensors = pick "optim." |> List.map KeyValuePair
                o.SetState(optTensors, System.Collections.ObjectModel.ReadOnlyDictionary(Dictionary(scalars)))
                optTensors |> List.iter (fun (kv: KeyValuePair<string, Tensor>) -> kv.Value.Dispose())
            | None -> pick "optim." |> List.iter (fun (_, t) -> t.Dispose())
            ps, st, info
        with _ ->
            for kv in tensors do
                kv.Value.Dispose()
            reraise ()

    /// Restores a checkpoint into live parameters, state and optimizer (a resumed fit): the saved trees must have the
    /// paths and shapes of `ps` and `state` — the first mismatch is named, and nothing is changed — then the values are
    /// copied in and the optimizer's state restored. Returns the counters.
    let restore (path: string) (ps: Params) (state: Params) (optimizer: Optimizer option) : CheckpointInfo =
        let p, s, info = load path None
        try
            match Model.mismatch ps p, Model.mismatch state s with
            | Some why, _ -> fail path (sprintf "does not fit the model: in its parameters %s" why)
            | _, Some why -> fail path (sprintf "does not fit the model: in its state %s" why)
            | None, None -> ()
            optimizer
            |> Option.iter (fun o ->
                let p2, s2, _ = load path (Some o)
                Params.dispose p2
                Params.dispose s2)
            use _ = Autograd.NoGrad()
            Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) ps p |> ignore
            Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) state s |> ignore
            info
        finally
            Params.dispose p
            Params.dispose s
