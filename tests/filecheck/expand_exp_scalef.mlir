// keir-expand{scalef} (the pipeline sets it for AVX-512 targets): exp of a 512-bit vector
// scales exp(r) by 2^n with one vscalefps/pd (LLVM's x86 intrinsic) instead of exponent-bit
// arithmetic; the upper clamp stays where the argument may be positive (+inf must give +inf).
// Other widths, and the scalar tail, keep the bit scaling: both round exp(r) 2^n once.
// RUN: keir opt %s --pipeline "keir-expand{scalef}"

func.func @f(%v: vector<16xf32>, %w: vector<8xf64>, %s: f32) -> (vector<16xf32>, vector<8xf64>, f32) {
  %0 = math.exp %v : vector<16xf32>
  %1 = math.exp %w : vector<8xf64>
  %2 = math.exp %s : f32
  return %0, %1, %2 : vector<16xf32>, vector<8xf64>, f32
}

// CHECK-LABEL: func.func @f(
// CHECK:         arith.cmpf olt
// CHECK:         arith.cmpf ogt
// CHECK-COUNT-9:  math.fma
// CHECK-NOT:     arith.shli
// CHECK:         llvm.call_intrinsic "llvm.x86.avx512.mask.scalef.ps.512"
// CHECK-SAME:      (vector<16xf32>, vector<16xf32>, vector<16xf32>, i16, i32) -> vector<16xf32>
// CHECK:         arith.divf
// CHECK:         llvm.call_intrinsic "llvm.x86.avx512.mask.scalef.pd.512"
// CHECK-SAME:      (vector<8xf64>, vector<8xf64>, vector<8xf64>, i8, i32) -> vector<8xf64>
// CHECK:         arith.shli %{{.*}} : i32
// CHECK-NOT:     llvm.call_intrinsic
// CHECK-NOT:     math.exp

func.func @g(%a: vector<16xf32>, %b: vector<8xf32>) -> (vector<16xf32>, vector<8xf32>) {
  %sq = arith.mulf %a, %a : vector<16xf32>
  %neg = arith.negf %sq : vector<16xf32>
  %0 = math.exp %neg : vector<16xf32>
  %1 = math.exp %b : vector<8xf32>
  return %0, %1 : vector<16xf32>, vector<8xf32>
}

// CHECK-LABEL: func.func @g(
// CHECK:         arith.cmpf ogt
// CHECK-NOT:     arith.cmpf
// CHECK-COUNT-9:  math.fma
// CHECK-NOT:     arith.shli
// CHECK:         llvm.call_intrinsic "llvm.x86.avx512.mask.scalef.ps.512"
// CHECK:         arith.cmpf olt
// CHECK:         arith.shli %{{.*}} : vector<8xi32>
// CHECK-NOT:     llvm.call_intrinsic
