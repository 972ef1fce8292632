/// Small bridges between F# arrays, MathNet matrices and engine tensors (float64 unless stated).
module Dsl.Theory.Engine

open Dsl.Engine
open MathNet.Numerics.LinearAlgebra

/// A float64 tensor of the given shape from values.
let tensor (shape: int64 list) (values: float[]) : Tensor = Torch.From<float>(values, Array.ofList shape)

/// The elements of a tensor as float64.
let values (t: Tensor) : float[] = if t.DType = DType.Float64 then t.Contiguous().ToArray<float>() else t.To(DType.Float64).Contiguous().ToArray<float>()

/// A scalar tensor's value.
let scalar (t: Tensor) : float = t.ToDouble()

/// A float64 [rows, cols] tensor from a MathNet matrix.
let ofMatrix (m: Matrix<float>) : Tensor = Torch.From<float>(m.ToRowMajorArray(), [| int64 m.RowCount; int64 m.ColumnCount |])

/// A MathNet matrix from a 2-D tensor.
let toMatrix (t: Tensor) : Matrix<float> =
    let s = t.Shape
    Matrix<float>.Build.DenseOfRowMajor(int s.[0], int s.[1], values t)

/// Runs `f` inside a DisposeScope: every tensor it creates is freed when it returns.
let scoped (f: unit -> 'T) : 'T = Dsl.Scope.run f

/// An int64 index tensor.
let indices (xs: int[]) : Tensor = Torch.From<int64>(Array.map int64 xs, [| int64 xs.Length |])
