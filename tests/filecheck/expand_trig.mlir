// keir-expand: math.sin and math.cos become a Cody-Waite reduction by pi/2 (floor, FMAs with
// an exact two_sum), both polynomials, and a quadrant select and sign flip on the integer
// bits; arguments beyond the accurate bound are selected away. Same code for scalars.
// RUN: keir opt %s --pipeline keir-expand

func.func @f(%v: vector<8xf32>, %s: f64) -> (vector<8xf32>, f64) {
  %0 = math.sin %v : vector<8xf32>
  %1 = math.cos %s : f64
  return %0, %1 : vector<8xf32>, f64
}

// CHECK-LABEL: func.func @f(
// CHECK-NOT:     math.sin
// CHECK:         %[[ABS:.*]] = math.absf %arg0 : vector<8xf32>
// CHECK:         %[[INSIDE:.*]] = arith.cmpf ole, %[[ABS]]
// CHECK:         math.floor %{{.*}} : vector<8xf32>
// CHECK-COUNT-2: math.fma
// CHECK:         arith.subf
// CHECK:         arith.fptosi %{{.*}} : vector<8xf32> to vector<8xi32>
// CHECK:         arith.cmpi ne
// CHECK:         arith.bitcast %arg0 : vector<8xf32> to vector<8xi32>
// CHECK:         arith.xori
// CHECK:         arith.xori
// CHECK:         arith.bitcast %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK:         arith.select %[[INSIDE]]
// CHECK:         math.floor %{{.*}} : f64
// CHECK:         arith.fptosi %{{.*}} : f64 to i64
// CHECK:         arith.xori %{{.*}} : i64
// CHECK-NOT:     math.cos
