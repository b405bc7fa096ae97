namespace ExprGrad.Emit;

// The typed compiled methods: the lambda's own parameters in, the value returned, one gradient per parameter
// written to an out parameter. Returning the gradients through the caller's locals, instead of a record built and
// copied back, keeps a small function's call close to a bare delegate call.

/// <summary>The typed value-and-gradient method of a function of 1 parameter.</summary>
internal delegate double TypedKernel<T1>(T1 a1, out T1 d1);

/// <summary>The typed value-and-gradient method of a function of 2 parameters.</summary>
internal delegate double TypedKernel<T1, T2>(T1 a1, T2 a2, out T1 d1, out T2 d2);

/// <summary>The typed value-and-gradient method of a function of 3 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3>(T1 a1, T2 a2, T3 a3, out T1 d1, out T2 d2, out T3 d3);

/// <summary>The typed value-and-gradient method of a function of 4 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3, T4>(T1 a1, T2 a2, T3 a3, T4 a4, out T1 d1, out T2 d2, out T3 d3, out T4 d4);

/// <summary>The typed value-and-gradient method of a function of 5 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3, T4, T5>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, out T1 d1, out T2 d2, out T3 d3, out T4 d4, out T5 d5);

/// <summary>The typed value-and-gradient method of a function of 6 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3, T4, T5, T6>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, out T1 d1, out T2 d2, out T3 d3, out T4 d4, out T5 d5, out T6 d6);

/// <summary>The typed value-and-gradient method of a function of 7 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3, T4, T5, T6, T7>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, out T1 d1, out T2 d2, out T3 d3, out T4 d4, out T5 d5, out T6 d6, out T7 d7);

/// <summary>The typed value-and-gradient method of a function of 8 parameters.</summary>
internal delegate double TypedKernel<T1, T2, T3, T4, T5, T6, T7, T8>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, out T1 d1, out T2 d2, out T3 d3, out T4 d4, out T5 d5, out T6 d6, out T7 d7, out T8 d8);

// The typed Hessian-vector products: the point, then a direction shaped like it, in; H·v, shaped like the point, out.
// What the method returns is not read.

/// <summary>The typed Hessian-vector product of a function of 1 parameter.</summary>
internal delegate double HessianVectorKernel<T1>(T1 a1, T1 v1, out T1 h1);

/// <summary>The typed Hessian-vector product of a function of 2 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2>(T1 a1, T2 a2, T1 v1, T2 v2, out T1 h1, out T2 h2);

/// <summary>The typed Hessian-vector product of a function of 3 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3>(T1 a1, T2 a2, T3 a3, T1 v1, T2 v2, T3 v3, out T1 h1, out T2 h2, out T3 h3);

/// <summary>The typed Hessian-vector product of a function of 4 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3, T4>(T1 a1, T2 a2, T3 a3, T4 a4, T1 v1, T2 v2, T3 v3, T4 v4, out T1 h1, out T2 h2, out T3 h3, out T4 h4);

/// <summary>The typed Hessian-vector product of a function of 5 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3, T4, T5>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, out T1 h1, out T2 h2, out T3 h3, out T4 h4, out T5 h5);

/// <summary>The typed Hessian-vector product of a function of 6 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3, T4, T5, T6>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6, out T1 h1, out T2 h2, out T3 h3, out T4 h4, out T5 h5, out T6 h6);

/// <summary>The typed Hessian-vector product of a function of 7 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3, T4, T5, T6, T7>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6, T7 v7, out T1 h1, out T2 h2, out T3 h3, out T4 h4, out T5 h5, out T6 h6, out T7 h7);

/// <summary>The typed Hessian-vector product of a function of 8 parameters.</summary>
internal delegate double HessianVectorKernel<T1, T2, T3, T4, T5, T6, T7, T8>(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6, T7 v7, T8 v8, out T1 h1, out T2 h2, out T3 h3, out T4 h4, out T5 h5, out T6 h6, out T7 h7, out T8 h8);
