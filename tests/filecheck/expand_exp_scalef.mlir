// keir-expand{scalef} (the pipeline sets it for AVX-512 targets): exp of a 512-bit vector
// whose argument may be positive scales exp(r) by 2^n with one vscalefps/pd (LLVM's x86
// intrinsic), masked to the lanes whose result does not round to 0 (an underflowing scalef
// takes a microcode assist), instead of the split exponent-bit scaling; the upper clamp
// stays (+inf must give +inf). An argument provably <= 0 keeps its one multiply, other
// widths and the scalar tail the bit scaling: all round exp(r) 2^n once.
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
// CHECK:         %[[LIVE:.*]] = arith.cmpf uge
// CHECK:         %[[WORD:.*]] = vector.bitcast %[[LIVE]] : vector<16xi1> to vector<1xi16>
// CHECK:         %[[MASK:.*]] = vector.extract %[[WORD]][0] : i16 from vector<1xi16>
// CHECK:         llvm.call_intrinsic "llvm.x86.avx512.mask.scalef.ps.512"(%{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}, %[[MASK]], %{{[^)]*}})
// CHECK-SAME:      (vector<16xf32>, vector<16xf32>, vector<16xf32>, i16, i32) -> vector<16xf32>
// CHECK-COUNT-14: math.fma
// CHECK-NOT:     arith.divf
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
// CHECK-NOT:     llvm.call_intrinsic
// CHECK:         arith.shli %{{.*}} : vector<16xi32>
// CHECK:         arith.mulf
// CHECK:         arith.cmpf olt
// CHECK:         arith.shli %{{.*}} : vector<8xi32>
// CHECK-NOT:     llvm.call_intrinsic
