/// Deterministic tensor memory from F#: run a computation inside a DisposeScope and keep only its result.
module Dsl.Scope

open Dsl.Engine

/// Runs `f` inside a new DisposeScope; every tensor it creates is freed when it returns, except the
/// result, which moves to the enclosing scope (or to no scope).
let keep (f: unit -> Tensor) : Tensor =
    use scope = DisposeScope.Enter()
    let result = f ()
    scope.MoveOut result

/// Runs `f` inside a new DisposeScope and returns its non-tensor result; every tensor it created is freed.
let run (f: unit -> 'T) : 'T =
    use _ = DisposeScope.Enter()
    f ()
