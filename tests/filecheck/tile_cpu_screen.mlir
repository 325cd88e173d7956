// keir-tile-cpu, ArgKMin of a long SqDist: screened (passes/lowering/screen.py). Per chunk,
// (1 - g) |x|^2 of each row (g = 8 (D + 4) u = 9.5e-6 here), NaN unless below 2^100; per
// column tile, (1 - g) |y|^2 - mu per column. A block screens the tile when the chunk's last
// tile paid (or it is the chunk's first block: the probe): x.y by one multiply-add per
// component for 2 column vectors at once, the bound (1 - g)|x|^2 + (1 - g)|y|^2 - mu - 2 x.y,
// and only where some lane is below the threshold or NaN (ult) a loop over the 2 column
// vectors recomputes the exact distances (subtract, square, multiply-adds) and inserts. The
// other blocks run the unscreened loop. With screen=false only the unscreened loop is left.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8},canonicalize,cse
// CHECK-DAG: %[[BIG:.*]] = arith.constant 1.2676506E+30 : f32
// CHECK-DAG: %[[ONE_G:.*]] = arith.constant 0.999990463 : f32
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<-2.000000e+00> : vector<8xf32>
// CHECK: math.fma %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: %[[NX:.*]] = math.fma %[[N:.*]], %[[ONE_G]], %{{.*}} : f32
// CHECK-NEXT: %[[SMALL:.*]] = arith.cmpf olt, %[[N]], %[[BIG]] : f32
// CHECK-NEXT: arith.select %[[SMALL]], %[[NX]], %{{.*}} : f32
// CHECK: scf.for
// CHECK: arith.cmpf olt, %{{.*}} : vector<8xf32>
// CHECK: %[[PROBE:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK: scf.if
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16
// CHECK: scf.for %{{.*}} = %c0 to %c16 step %c1
// CHECK-COUNT-8: math.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: math.fma %{{.*}}#0, %[[TWO]], %{{.*}} : vector<8xf32>
// CHECK: math.fma %{{.*}}#1, %[[TWO]], %{{.*}} : vector<8xf32>
// CHECK-NEXT: arith.cmpf ult
// CHECK-NEXT: arith.cmpf ult
// CHECK: vector.reduction <or>
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK: arith.cmpf ult
// CHECK: scf.if
// CHECK: arith.subf
// CHECK: } else {
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8

module {
  func.func @knn() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 16, 16>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 16 : i64, pos = 0 : i64} : () -> vector<16xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 16 : i64, pos = 1 : i64} : () -> vector<16xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<16xf32>, vector<16xf32>) -> vector<1xf32>
    "keir.reduction"(%2) {axis = 1 : i64, k = 2 : i64, kind = "ArgKMin"} : (vector<1xf32>) -> ()
    return
  }
}
