// keir-tile-cpu, ArgKMin with K = 2: the state is 2 values, 2 indices (the row's best so far,
// in lane 0) and a threshold (the K-th best, in every lane). Only when some lane is below the
// threshold (vector.reduction <or>, then scf.if) are the lanes below it inserted, one by one,
// into the scalar list taken out of lane 0 and put back (a select on the lane-0 mask): a loop
// over the set bits of the mask (count trailing zeros, clear the lowest bit), each insertion
// K independent strict compares (no index comparison: the new index is the largest);
// otherwise the state passes through. After the vector loop the row's state is lane 0 (no
// merge of the 8 lanes: the others are empty): it enters the scalar tail's loop directly.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8},canonicalize,cse

module {
  func.func @knn() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 1, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 0 : i64} : () -> vector<1xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 1 : i64} : () -> vector<1xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%2) {axis = 1 : i64, k = 2 : i64, kind = "ArgKMin"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @knn(
// CHECK:         scf.for %{{.*}} iter_args(%[[V0:.*]] = %{{.*}}, %[[V1:.*]] = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %[[T:.*]] = %{{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:           %[[D:.*]] = arith.mulf
// CHECK:           %[[BEATS:.*]] = arith.cmpf olt, %[[D]], %[[T]] : vector<8xf32>
// CHECK:           %[[ANY:.*]] = vector.reduction <or>, %[[BEATS]] : vector<8xi1> into i1
// CHECK:           %[[NEW:.*]]:5 = scf.if %[[ANY]] -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             %[[H0:.*]] = vector.extract %[[V0]][0] : f32 from vector<8xf32>
// CHECK:             %[[BITS:.*]] = vector.bitcast %[[BEATS]] : vector<8xi1> to vector<1xi8>
// CHECK:             %[[H:.*]]:5 = scf.while (%[[M:.*]] = %{{.*}}, %{{.*}} = %[[H0]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) : (i32, f32, f32, f32, f32)
// CHECK:               arith.cmpi ne
// CHECK:               scf.condition
// CHECK:             } do {
// CHECK:               %[[L:.*]] = math.cttz
// CHECK:               %[[LI:.*]] = arith.index_cast %[[L]]
// CHECK:               %[[DL:.*]] = vector.extract %[[D]][%[[LI]]] : f32 from vector<8xf32>
// CHECK:               arith.andi
// CHECK:               %[[IN:.*]] = arith.cmpf olt, %[[DL]], %{{.*}} : f32
// CHECK:               scf.if %[[IN]]
// CHECK-NEXT:            arith.cmpf olt, %[[DL]], %{{.*}} : f32
// CHECK-NOT:             arith.cmpf oeq
// CHECK:                 arith.select
// CHECK:             %[[S0:.*]] = vector.broadcast %[[H]]#1 : f32 to vector<8xf32>
// CHECK:             arith.select %[[FIRST:.*]], %[[S0]], %[[V0]] : vector<8xi1>, vector<8xf32>
// CHECK:           } else {
// CHECK-NEXT:        scf.yield %[[V0]], %[[V1]], %{{.*}}, %{{.*}}, %[[T]] : vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>
// CHECK:           scf.yield %[[NEW]]#0, %[[NEW]]#1, %[[NEW]]#2, %[[NEW]]#3, %[[NEW]]#4
// CHECK:         %[[S:.*]] = vector.extract %{{.*}}[0] : f32 from vector<8xf32>
// CHECK:         scf.for %{{.*}} iter_args(%{{.*}} = %[[S]],
// CHECK:           arith.cmpf olt, %{{.*}}, %{{.*}} : f32
// CHECK:           scf.if
