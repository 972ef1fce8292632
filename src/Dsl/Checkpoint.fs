namespace Dsl

open System.Text.Json
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Engine.Optim

/// What a checkpoint holds besides tensors.
type CheckpointInfo = { Epoch: int; Step: int64; Optimizer: string }

/// Checkpoints: parameters, state, optimizer state and epoch/step counters, as `<path>.safetensors`
/// plus `<path>.json`. Each file is written atomically (temporary file, then rename), the JSON last,
/// so a checkpoint whose JSON exists is complete.
module Checkpoint =
    /// The two file names of a checkpoint path.
    let files (path: string) = path + ".safetensors", path + ".json"

    /// Saves parameters, state, the optimizer's state and the counters.
    let save (path: string) (ps: Params) (state: Params) (optimizer: Optimizer option) (info: CheckpointInfo) =
        use scope = DisposeScope.Enter()
        let tensorFile, jsonFile = files path
        let optTensors, optScalars =
            match optimizer with
            | Some o ->
                let struct (t, s) = o.GetState()
                List.ofSeq t, s |> Seq.map (fun (kv: System.Collections.Generic.KeyValuePair<string, float>) -> kv.Key, kv.Value) |> Map.ofSeq
            | None -> [], Map.empty
        let all = [
            for (p, t) in Tree.toList ps -> System.Collections.Generic.KeyValuePair("params." + p, t)
            for (p, t) in Tree.toList state -> System.Collections.Generic.KeyValuePair("state." + p, t)
            for (kv: System.Collections.Generic.KeyValuePair<string, Tensor>) in optTensors -> System.Collections.Generic.KeyValuePair("optim." + kv.Key, kv.Value)
        ]
        Safetensors.Save(tensorFile, all)
        let json =
            JsonSerializer.Serialize(
                dict [ "epoch", box info.Epoch; "step", box info.Step; "optimizer", box info.Optimizer; "optimizer_scalars", box optScalars; "format", box "dsl-checkpoint-1" ],
                JsonSerializerOptions(WriteIndented = true)
            )
        AtomicFile.WriteAllText(jsonFile, json)

    /// Loads a checkpoint: parameters and state (as trees with the saved paths), the counters, and
    /// applies the saved optimizer state to `optimizer` when given.
    let load (path: string) (optimizer: Optimizer option) : Params * Params * CheckpointInfo =
        let tensorFile, jsonFile = files path
        if not (System.IO.File.Exists jsonFile) then
            raise (System.IO.FileNotFoundException(sprintf "checkpoint: '%s' has no %s (it was never completed, or the path is wrong)" path jsonFile, jsonFile))
        use doc = JsonDocument.Parse(System.IO.File.ReadAllText jsonFile)
        let root = doc.RootElement
        let info = {
            Epoch = root.GetProperty("epoch").GetInt32()
            Step = root.GetProperty("step").GetInt64()
            Optimizer =
                match root.GetProperty("optimizer").GetString() with
                | null -> raise (System.IO.InvalidDataException(sprintf "checkpoint: %s has a null optimizer name; expected a string" jsonFile))
                | name -> name
        }
        let tensors = Safetensors.Load(tensorFile) |> List.ofSeq
        let pick (prefix: string) =
            tensors
            |> List.filter (fun (kv: System.Collections.Generic.KeyValuePair<string, Tensor>) -> kv.Key.StartsWith prefix)
            |> List.map (fun (kv: System.Collections.Generic.KeyValuePair<string, Tensor>) -> kv.Key.Substring prefix.Length, kv.Value)
        let ps = pick "params." |> Tree.ofList
        let st = pick "state." |> Tree.ofList
        match optimizer with
        | Some o ->
            let scalars = root.GetProperty("optimizer_scalars").EnumerateObject() |> Seq.map (fun p -> p.Name, p.Value.GetDouble()) |> dict
            let optTensors = pick "optim." |> List.map System.Collections.Generic.KeyValuePair
            o.SetState(optTensors, System.Collections.ObjectModel.ReadOnlyDictionary(System.Collections.Generic.Dictionary(scalars)))
            optTensors |> List.iter (fun (kv: System.Collections.Generic.KeyValuePair<string, Tensor>) -> kv.Value.Dispose())
        | None -> pick "optim." |> List.iter (fun (_, t) -> t.Dispose())
        (if Tree.isEmpty ps then Tree.empty else ps), (if Tree.isEmpty st then Tree.empty else st), info
