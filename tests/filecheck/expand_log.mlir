// keir-expand: math.log becomes an exponent read from the bits (bitcast, shift, mask), a
// polynomial on FMAs (float32) or a rational function (float64) in the mantissa, and selects
// for 0, negatives, +inf and NaN; no call is left, in vector lanes or scalar ones.
// RUN: keir opt %s --pipeline keir-expand

func.func @f(%v: vector<8xf32>, %s: f64) -> (vector<8xf32>, f64) {
  %0 = math.log %v : vector<8xf32>
  %1 = math.log %s : f64
  return %0, %1 : vector<8xf32>, f64
}

// CHECK-LABEL: func.func @f(
// CHECK-NOT:     math.log
// CHECK:         arith.cmpf olt, %arg0
// CHECK:         arith.bitcast %{{.*}} : vector<8xf32> to vector<8xi32>
// CHECK:         arith.shrui %{{.*}} : vector<8xi32>
// CHECK:         arith.andi
// CHECK:         arith.ori
// CHECK:         arith.bitcast %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK-COUNT-8: math.fma %{{.*}} : vector<8xf32>
// CHECK:         arith.cmpf oeq, %arg0
// CHECK:         arith.cmpf oeq, %arg0
// CHECK:         arith.cmpf olt, %arg0
// CHECK:         arith.cmpf uno, %arg0, %arg0
// CHECK:         arith.bitcast %{{.*}} : f64 to i64
// CHECK:         math.fma %{{.*}} : f64
// CHECK:         arith.divf %{{.*}} : f64
// CHECK:         arith.cmpf uno, %arg1, %arg1
// CHECK-NOT:     math.log
