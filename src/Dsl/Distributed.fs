namespace Dsl

open System
open Dsl.Engine.Distributed

/// Data-parallel training from F#: the job's place from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
/// MASTER_ADDR, MASTER_PORT, which `dotnet fsi build.fsx launch` sets), and the process group that
/// `FitOptions.Distributed` trains over.
[<RequireQualifiedAccess>]
module Distributed =
    /// The job's variables; a job of one (rank 0 of 1) when WORLD_SIZE is not set.
    let environment () : DistributedEnvironment = DistributedEnvironment.FromEnvironment()

    /// True when the process was started as part of a job (WORLD_SIZE is set).
    let isLaunched () = DistributedEnvironment.IsLaunched

    /// Forms the process group of the job from the environment over rank 0's TCP store; every call on it is bounded
    /// by `timeout`. Without WORLD_SIZE it is a group of one on a free local port, so the same script runs alone.
    let initWith (timeout: TimeSpan) : ProcessGroup =
        if DistributedEnvironment.IsLaunched then
            ProcessGroup.FromEnvironment timeout
        else
            let listener = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
            listener.Start()
            let port = (listener.LocalEndpoint :?> Net.IPEndPoint).Port
            listener.Stop()
            ProcessGroup.Tcp("127.0.0.1", port, 1, 0, timeout)

    /// `initWith` with torch's default timeout for Gloo, 30 minutes.
    let init () : ProcessGroup = initWith (TimeSpan.FromMinutes 30.0)

    /// True on rank 0 (the rank that prints, writes checkpoints and reports), and when not distributed.
    let isRoot (group: ProcessGroup option) = group |> Option.forall (fun g -> g.Rank = 0)
