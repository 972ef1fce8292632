using Dsl.Engine.Interop;

namespace Dsl.Engine;

public sealed partial class Tensor
{
    static readonly string[] UnaryNames = OpNames.Of<UnaryOp>(OpFamily.Unary);
    static readonly string[] BinaryNames = OpNames.Of<BinaryOp>(OpFamily.Binary);

    Tensor Unary(UnaryOp op) => Errors.T(Native.dsl_math_unary((int)op, this), UnaryNames[(int)op], this);
    Tensor UnaryInPlace(UnaryOp op) { Errors.S(Native.dsl_math_unary_((int)op, this), UnaryNames[(int)op] + "_", this); return this; }
    internal Tensor Binary(BinaryOp op, Tensor other) => Errors.T(Native.dsl_math_binary((int)op, this, other), BinaryNames[(int)op], this, other);
    Tensor BinaryInPlace(BinaryOp op, Tensor other) { Errors.S(Native.dsl_math_binary_((int)op, this, other), BinaryNames[(int)op] + "_", this, other); return this; }
    internal Tensor Binary(BinaryOp op, double s, bool integral = false, bool scalarFirst = false) =>
        Errors.T(Native.dsl_math_binary_scalar((int)op, this, s, integral ? 1 : 0, scalarFirst ? 1 : 0), BinaryNames[(int)op], this);
    // An int64 scalar goes through as an int64, so that integer tensors compare and compute exactly beyond 2^53.
    internal Tensor Binary(BinaryOp op, long s, bool scalarFirst = false) =>
        Errors.T(Native.dsl_math_binary_long((int)op, this, s, scalarFirst ? 1 : 0), BinaryNames[(int)op], this);
    Tensor BinaryInPlace(BinaryOp op, long s) { Errors.S(Native.dsl_math_binary_long_((int)op, this, s), BinaryNames[(int)op] + "_", this); return this; }
    Tensor BinaryInPlace(BinaryOp op, double s, bool integral = false) { Errors.S(Native.dsl_math_binary_scalar_((int)op, this, s, integral ? 1 : 0), BinaryNames[(int)op] + "_", this); return this; }

    // ---- unary math ----
    /// <summary>−x.</summary>
    public Tensor Neg() => Unary(UnaryOp.Neg);
    /// <summary>|x|.</summary>
    public Tensor Abs() => Unary(UnaryOp.Abs);
    /// <summary>eˣ.</summary>
    public Tensor Exp() => Unary(UnaryOp.Exp);
    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Unary(UnaryOp.Log);
    /// <summary>log(1 + x), accurate for small x.</summary>
    public Tensor Log1p() => Unary(UnaryOp.Log1p);
    /// <summary>√x.</summary>
    public Tensor Sqrt() => Unary(UnaryOp.Sqrt);
    /// <summary>1/√x.</summary>
    public Tensor Rsqrt() => Unary(UnaryOp.Rsqrt);
    /// <summary>−1, 0 or 1.</summary>
    public Tensor Sign() => Unary(UnaryOp.Sign);
    /// <summary>Rounds down.</summary>
    public Tensor Floor() => Unary(UnaryOp.Floor);
    /// <summary>Rounds up.</summary>
    public Tensor Ceil() => Unary(UnaryOp.Ceil);
    /// <summary>Rounds half to even.</summary>
    public Tensor Round() => Unary(UnaryOp.Round);
    /// <summary>Rounds toward zero.</summary>
    public Tensor Trunc() => Unary(UnaryOp.Trunc);
    /// <summary>Sine.</summary>
    public Tensor Sin() => Unary(UnaryOp.Sin);
    /// <summary>Cosine.</summary>
    public Tensor Cos() => Unary(UnaryOp.Cos);
    /// <summary>Tangent.</summary>
    public Tensor Tan() => Unary(UnaryOp.Tan);
    /// <summary>x².</summary>
    public Tensor Square() => Unary(UnaryOp.Square);
    /// <summary>1/x.</summary>
    public Tensor Reciprocal() => Unary(UnaryOp.Reciprocal);
    /// <summary>eˣ − 1, accurate for small x.</summary>
    public Tensor Expm1() => Unary(UnaryOp.Expm1);
    /// <summary>Base-2 logarithm.</summary>
    public Tensor Log2() => Unary(UnaryOp.Log2);
    /// <summary>Base-10 logarithm.</summary>
    public Tensor Log10() => Unary(UnaryOp.Log10);
    /// <summary>The error function.</summary>
    public Tensor Erf() => Unary(UnaryOp.Erf);
    /// <summary>Logical not (bool result).</summary>
    public Tensor LogicalNot() => Unary(UnaryOp.LogicalNot);
    /// <summary>Fractional part.</summary>
    public Tensor Frac() => Unary(UnaryOp.Frac);
    /// <summary>True where x is NaN.</summary>
    public Tensor IsNan() => Unary(UnaryOp.IsNan);
    /// <summary>True where x is finite.</summary>
    public Tensor IsFinite() => Unary(UnaryOp.IsFinite);
    /// <summary>Arcsine.</summary>
    public Tensor Asin() => Unary(UnaryOp.Asin);
    /// <summary>Arccosine.</summary>
    public Tensor Acos() => Unary(UnaryOp.Acos);
    /// <summary>Arctangent.</summary>
    public Tensor Atan() => Unary(UnaryOp.Atan);

    /// <summary>In-place −x; returns this.</summary>
    public Tensor Neg_() => UnaryInPlace(UnaryOp.Neg);
    /// <summary>In-place |x|; returns this.</summary>
    public Tensor Abs_() => UnaryInPlace(UnaryOp.Abs);
    /// <summary>In-place eˣ; returns this.</summary>
    public Tensor Exp_() => UnaryInPlace(UnaryOp.Exp);
    /// <summary>In-place log; returns this.</summary>
    public Tensor Log_() => UnaryInPlace(UnaryOp.Log);
    /// <summary>In-place √x; returns this.</summary>
    public Tensor Sqrt_() => UnaryInPlace(UnaryOp.Sqrt);
    /// <summary>In-place x²; returns this.</summary>
    public Tensor Square_() => UnaryInPlace(UnaryOp.Square);

    // ---- binary math (broadcasting) ----
    /// <summary>x + y.</summary>
    public Tensor Add(Tensor y) => Binary(BinaryOp.Add, y);
    /// <summary>x − y.</summary>
    public Tensor Sub(Tensor y) => Binary(BinaryOp.Sub, y);
    /// <summary>x · y elementwise.</summary>
    public Tensor Mul(Tensor y) => Binary(BinaryOp.Mul, y);
    /// <summary>x / y (true division).</summary>
    public Tensor Div(Tensor y) => Binary(BinaryOp.Div, y);
    /// <summary>xʸ elementwise.</summary>
    public Tensor Pow(Tensor y) => Binary(BinaryOp.Pow, y);
    /// <summary>xᵉ.</summary>
    public Tensor Pow(double exponent) => Binary(BinaryOp.Pow, exponent);
    /// <summary>Elementwise maximum.</summary>
    public Tensor Maximum(Tensor y) => Binary(BinaryOp.Maximum, y);
    /// <summary>Elementwise minimum.</summary>
    public Tensor Minimum(Tensor y) => Binary(BinaryOp.Minimum, y);
    /// <summary>torch.atan2(this, other): the angle in (−π, π] of the point (x = <paramref name="y"/>, y = this), i.e. atan2(y: this, x: other), elementwise.</summary>
    public Tensor Atan2(Tensor y) => Binary(BinaryOp.Atan2, y);
    /// <summary>Python-style remainder (sign of the divisor).</summary>
    public Tensor Remainder(Tensor y) => Binary(BinaryOp.Remainder, y);
    /// <summary>Python-style remainder by a scalar.</summary>
    public Tensor Remainder(double y) => Binary(BinaryOp.Remainder, y);
    /// <summary>Python-style remainder by an integer (keeps integer dtypes, exact for any int64).</summary>
    public Tensor Remainder(long y) => Binary(BinaryOp.Remainder, y);
    /// <summary>C-style remainder (sign of the dividend).</summary>
    public Tensor Fmod(Tensor y) => Binary(BinaryOp.Fmod, y);
    /// <summary>Floor division.</summary>
    public Tensor FloorDivide(Tensor y) => Binary(BinaryOp.FloorDivide, y);
    /// <summary>x·log(y), 0 where x = 0.</summary>
    public Tensor Xlogy(Tensor y) => Binary(BinaryOp.Xlogy, y);
    /// <summary>x == y (bool).</summary>
    public Tensor Eq(Tensor y) => Binary(BinaryOp.Eq, y);
    /// <summary>x == s (bool).</summary>
    public Tensor Eq(double s) => Binary(BinaryOp.Eq, s);
    /// <summary>x == n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Eq(long n) => Binary(BinaryOp.Eq, n);
    /// <summary>x != y (bool).</summary>
    public Tensor Ne(Tensor y) => Binary(BinaryOp.Ne, y);
    /// <summary>x != s (bool).</summary>
    public Tensor Ne(double s) => Binary(BinaryOp.Ne, s);
    /// <summary>x != n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Ne(long n) => Binary(BinaryOp.Ne, n);
    /// <summary>x &lt; y (bool).</summary>
    public Tensor Lt(Tensor y) => Binary(BinaryOp.Lt, y);
    /// <summary>x &lt;= y (bool).</summary>
    public Tensor Le(Tensor y) => Binary(BinaryOp.Le, y);
    /// <summary>x &lt; s (bool).</summary>
    public Tensor Lt(double s) => Binary(BinaryOp.Lt, s);
    /// <summary>x &lt; n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Lt(long n) => Binary(BinaryOp.Lt, n);
    /// <summary>x &lt;= s (bool).</summary>
    public Tensor Le(double s) => Binary(BinaryOp.Le, s);
    /// <summary>x &lt;= n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Le(long n) => Binary(BinaryOp.Le, n);
    /// <summary>x &gt; s (bool).</summary>
    public Tensor Gt(double s) => Binary(BinaryOp.Gt, s);
    /// <summary>x &gt; n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Gt(long n) => Binary(BinaryOp.Gt, n);
    /// <summary>x &gt;= s (bool).</summary>
    public Tensor Ge(double s) => Binary(BinaryOp.Ge, s);
    /// <summary>x &gt;= n (bool); an integer tensor compares exactly with any int64 n.</summary>
    public Tensor Ge(long n) => Binary(BinaryOp.Ge, n);
    /// <summary>x &gt; y (bool).</summary>
    public Tensor Gt(Tensor y) => Binary(BinaryOp.Gt, y);
    /// <summary>x &gt;= y (bool).</summary>
    public Tensor Ge(Tensor y) => Binary(BinaryOp.Ge, y);
    /// <summary>Logical and (bool).</summary>
    public Tensor LogicalAnd(Tensor y) => Binary(BinaryOp.LogicalAnd, y);
    /// <summary>Logical or (bool).</summary>
    public Tensor LogicalOr(Tensor y) => Binary(BinaryOp.LogicalOr, y);
    /// <summary>Logical xor (bool).</summary>
    public Tensor LogicalXor(Tensor y) => Binary(BinaryOp.LogicalXor, y);

    /// <summary>In-place x += y; returns this.</summary>
    public Tensor Add_(Tensor y) => BinaryInPlace(BinaryOp.Add, y);
    /// <summary>In-place x −= y; returns this.</summary>
    public Tensor Sub_(Tensor y) => BinaryInPlace(BinaryOp.Sub, y);
    /// <summary>In-place x *= y; returns this.</summary>
    public Tensor Mul_(Tensor y) => BinaryInPlace(BinaryOp.Mul, y);
    /// <summary>In-place x /= y; returns this.</summary>
    public Tensor Div_(Tensor y) => BinaryInPlace(BinaryOp.Div, y);
    /// <summary>In-place x += s; returns this.</summary>
    public Tensor Add_(double s) => BinaryInPlace(BinaryOp.Add, s);
    /// <summary>In-place x −= s; returns this.</summary>
    public Tensor Sub_(double s) => BinaryInPlace(BinaryOp.Sub, s);
    /// <summary>In-place x *= s; returns this.</summary>
    public Tensor Mul_(double s) => BinaryInPlace(BinaryOp.Mul, s);
    /// <summary>In-place x /= s; returns this.</summary>
    public Tensor Div_(double s) => BinaryInPlace(BinaryOp.Div, s);
    /// <summary>In-place x += n (keeps integer dtypes, exact for any int64); returns this.</summary>
    public Tensor Add_(long n) => BinaryInPlace(BinaryOp.Add, n);
    /// <summary>In-place x −= n (keeps integer dtypes, exact for any int64); returns this.</summary>
    public Tensor Sub_(long n) => BinaryInPlace(BinaryOp.Sub, n);
    /// <summary>In-place x *= n (keeps integer dtypes, exact for any int64); returns this.</summary>
    public Tensor Mul_(long n) => BinaryInPlace(BinaryOp.Mul, n);
    /// <summary>In-place xᵉ; returns this.</summary>
    public Tensor Pow_(double e) => BinaryInPlace(BinaryOp.Pow, e);

    // ---- linear algebra ----
    /// <summary>Matrix product with NumPy broadcasting semantics (1-D, 2-D and batched).</summary>
    public Tensor Matmul(Tensor y) => Binary(BinaryOp.Matmul, y);
    /// <summary>2-D matrix product.</summary>
    public Tensor Mm(Tensor y) => Binary(BinaryOp.Mm, y);
    /// <summary>Batched matrix product of 3-D tensors.</summary>
    public Tensor Bmm(Tensor y) => Binary(BinaryOp.Bmm, y);
    /// <summary>Outer product of two vectors.</summary>
    public Tensor Outer(Tensor y) => Binary(BinaryOp.Outer, y);
    /// <summary>Dot product of two vectors.</summary>
    public Tensor Dot(Tensor y) => Binary(BinaryOp.Dot, y);

    // ---- clamp, masks ----
    /// <summary>Limits values to [min, max] (either bound may be omitted).</summary>
    public Tensor Clamp(double? min = null, double? max = null) =>
        Errors.T(Native.dsl_math_clamp(this, min ?? 0, max ?? 0, min.HasValue ? 1 : 0, max.HasValue ? 1 : 0), "clamp", this);
    /// <summary>In-place clamp; returns this.</summary>
    public Tensor Clamp_(double? min = null, double? max = null)
    { Errors.S(Native.dsl_math_clamp_(this, min ?? 0, max ?? 0, min.HasValue ? 1 : 0, max.HasValue ? 1 : 0), "clamp_", this); return this; }
    /// <summary>A copy with <paramref name="value"/> where the bool <paramref name="mask"/> is true.</summary>
    public Tensor MaskedFill(Tensor mask, double value) => Errors.T(Native.dsl_math_masked_fill(this, mask, value), "masked_fill", this, mask);
    /// <summary>In-place masked fill; returns this.</summary>
    public Tensor MaskedFill_(Tensor mask, double value) { Errors.S(Native.dsl_math_masked_fill_(this, mask, value), "masked_fill_", this, mask); return this; }
    /// <summary>True when both tensors have the same shape and elements.</summary>
    public bool Equal(Tensor y) => Errors.S(Native.dsl_math_equal(this, y), "equal", this, y) == 1;

    // ---- operators: tensor∘tensor, tensor∘scalar and scalar∘tensor ----
    /// <summary>Elementwise sum.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Binary(BinaryOp.Add, b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double s) => a.Binary(BinaryOp.Add, s);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double s, Tensor a) => a.Binary(BinaryOp.Add, s, scalarFirst: true);
    /// <summary>Adds an integer (keeps integer dtypes).</summary>
    public static Tensor operator +(Tensor a, long s) => a.Binary(BinaryOp.Add, s);
    /// <summary>Adds an integer (keeps integer dtypes).</summary>
    public static Tensor operator +(long s, Tensor a) => a.Binary(BinaryOp.Add, s, scalarFirst: true);
    /// <summary>Elementwise difference.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Binary(BinaryOp.Sub, b);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double s) => a.Binary(BinaryOp.Sub, s);
    /// <summary>Scalar minus tensor.</summary>
    public static Tensor operator -(double s, Tensor a) => a.Binary(BinaryOp.Sub, s, scalarFirst: true);
    /// <summary>Subtracts an integer.</summary>
    public static Tensor operator -(Tensor a, long s) => a.Binary(BinaryOp.Sub, s);
    /// <summary>Integer minus tensor.</summary>
    public static Tensor operator -(long s, Tensor a) => a.Binary(BinaryOp.Sub, s, scalarFirst: true);
    /// <summary>Elementwise product.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Binary(BinaryOp.Mul, b);
    /// <summary>Scales by a scalar.</summary>
    public static Tensor operator *(Tensor a, double s) => a.Binary(BinaryOp.Mul, s);
    /// <summary>Scales by a scalar.</summary>
    public static Tensor operator *(double s, Tensor a) => a.Binary(BinaryOp.Mul, s, scalarFirst: true);
    /// <summary>Scales by an integer.</summary>
    public static Tensor operator *(Tensor a, long s) => a.Binary(BinaryOp.Mul, s);
    /// <summary>Scales by an integer.</summary>
    public static Tensor operator *(long s, Tensor a) => a.Binary(BinaryOp.Mul, s, scalarFirst: true);
    /// <summary>Elementwise true division.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Binary(BinaryOp.Div, b);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double s) => a.Binary(BinaryOp.Div, s);
    /// <summary>Scalar divided by tensor.</summary>
    public static Tensor operator /(double s, Tensor a) => a.Binary(BinaryOp.Div, s, scalarFirst: true);
    /// <summary>Divides by an integer (true division).</summary>
    public static Tensor operator /(Tensor a, long s) => a.Binary(BinaryOp.Div, s);
    /// <summary>Integer divided by tensor (true division).</summary>
    public static Tensor operator /(long s, Tensor a) => a.Binary(BinaryOp.Div, s, scalarFirst: true);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
    /// <summary>x &lt; y (bool).</summary>
    public static Tensor operator <(Tensor a, Tensor b) => a.Binary(BinaryOp.Lt, b);
    /// <summary>x &gt; y (bool).</summary>
    public static Tensor operator >(Tensor a, Tensor b) => a.Binary(BinaryOp.Gt, b);
    /// <summary>x &lt;= y (bool).</summary>
    public static Tensor operator <=(Tensor a, Tensor b) => a.Binary(BinaryOp.Le, b);
    /// <summary>x &gt;= y (bool).</summary>
    public static Tensor operator >=(Tensor a, Tensor b) => a.Binary(BinaryOp.Ge, b);
    /// <summary>x &lt; s (bool).</summary>
    public static Tensor operator <(Tensor a, double s) => a.Binary(BinaryOp.Lt, s);
    /// <summary>x &gt; s (bool).</summary>
    public static Tensor operator >(Tensor a, double s) => a.Binary(BinaryOp.Gt, s);
    /// <summary>x &lt;= s (bool).</summary>
    public static Tensor operator <=(Tensor a, double s) => a.Binary(BinaryOp.Le, s);
    /// <summary>x &gt;= s (bool).</summary>
    public static Tensor operator >=(Tensor a, double s) => a.Binary(BinaryOp.Ge, s);
    /// <summary>x &lt; n (bool), exact for integer tensors.</summary>
    public static Tensor operator <(Tensor a, long n) => a.Binary(BinaryOp.Lt, n);
    /// <summary>x &gt; n (bool), exact for integer tensors.</summary>
    public static Tensor operator >(Tensor a, long n) => a.Binary(BinaryOp.Gt, n);
    /// <summary>x &lt;= n (bool), exact for integer tensors.</summary>
    public static Tensor operator <=(Tensor a, long n) => a.Binary(BinaryOp.Le, n);
    /// <summary>x &gt;= n (bool), exact for integer tensors.</summary>
    public static Tensor operator >=(Tensor a, long n) => a.Binary(BinaryOp.Ge, n);
}
