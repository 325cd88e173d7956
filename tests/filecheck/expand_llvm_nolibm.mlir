// keir-expand then the math lowerings of the driver (passes/pipeline.py UPSTREAM_CPU order):
// exp, log, sin and cos on vectors and scalars leave no call and no llvm.intr.exp/log/sin/cos
// (LLVM would scalarise those into libm calls); sqrt is llvm.intr.sqrt (vsqrtps) and rsqrt is
// 1 / sqrt. What keir-expand does not cover (here erf) still reaches libm.
// RUN: keir opt %s --pipeline "keir-expand,convert-math-to-llvm,convert-math-to-libm,convert-vector-to-llvm,convert-arith-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts"

func.func @f32(%v: vector<16xf32>, %s: f32) -> (vector<16xf32>, f32) {
  %0 = math.exp %v : vector<16xf32>
  %1 = math.log %0 : vector<16xf32>
  %2 = math.sin %1 : vector<16xf32>
  %3 = math.cos %2 : vector<16xf32>
  %4 = math.sqrt %3 : vector<16xf32>
  %5 = math.rsqrt %4 : vector<16xf32>
  %6 = math.exp %s : f32
  %7 = math.log %6 : f32
  %8 = math.sin %7 : f32
  %9 = math.cos %8 : f32
  %10 = math.sqrt %9 : f32
  %11 = math.rsqrt %10 : f32
  return %5, %11 : vector<16xf32>, f32
}

func.func @f64(%v: vector<8xf64>, %s: f64) -> (vector<8xf64>, f64) {
  %0 = math.exp %v : vector<8xf64>
  %1 = math.log %0 : vector<8xf64>
  %2 = math.sin %1 : vector<8xf64>
  %3 = math.cos %2 : vector<8xf64>
  %4 = math.sqrt %3 : vector<8xf64>
  %5 = math.rsqrt %4 : vector<8xf64>
  %6 = math.erf %s : f64
  return %5, %6 : vector<8xf64>, f64
}

// No line before the erf call may be a call or one of those intrinsics: CHECK-NOT between
// any two matches.
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK-LABEL: llvm.func @f32(
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.intr.fma({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.intr.sqrt(%{{.*}}) : (vector<16xf32>) -> vector<16xf32>
// CHECK-NEXT:    llvm.intr.sqrt(%{{.*}}) : (vector<16xf32>) -> vector<16xf32>
// CHECK-NEXT:    llvm.fdiv %{{.*}} : vector<16xf32>
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.intr.fma({{.*}}) : (f32, f32, f32) -> f32
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.intr.sqrt(%{{.*}}) : (f32) -> f32
// CHECK-NEXT:    llvm.intr.sqrt(%{{.*}}) : (f32) -> f32
// CHECK-NEXT:    llvm.fdiv %{{.*}} : f32
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK-LABEL: llvm.func @f64(
// CHECK-NOT:     llvm.call
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.intr.sqrt(%{{.*}}) : (vector<8xf64>) -> vector<8xf64>
// CHECK-NEXT:    llvm.intr.sqrt(%{{.*}}) : (vector<8xf64>) -> vector<8xf64>
// CHECK-NEXT:    llvm.fdiv %{{.*}} : vector<8xf64>
// CHECK-NOT:     llvm.intr.{{(exp|log|sin|cos)}}
// CHECK:         llvm.call @erf(
