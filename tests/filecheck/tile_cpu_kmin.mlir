// keir-tile-cpu, ArgKMin: on vector lanes the row's K best are packed, sorted across the lanes
// of ceil(K / L) vectors of values and as many of indices, with the threshold (the K-th best)
// in every lane of one more. Only when some lane is below the threshold (vector.reduction
// <or>, then scf.if) are the lanes below it inserted, one by one: a loop over the set bits of
// the mask (count trailing zeros, clear the lowest bit), each lane broadcast and put into the
// whole list by a permute that shifts it down one slot (-inf into slot 0), a strict compare
// against the shifted and the unshifted list and two selects (no index comparison: the new
// index is the largest); then the threshold is the K-th slot's lane broadcast. Otherwise the
// state passes through. After the vector loop the list is read out of its lanes into the
// scalar tail's loop.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8},canonicalize,cse

module {
  func.func @knn() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 1, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 0 : i64} : () -> vector<1xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 1 : i64} : () -> vector<1xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%2) {axis = 1 : i64, k = 2 : i64, kind = "ArgKMin"} : (vector<1xf32>) -> ()
    return
  }
  func.func @knn10() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 1, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 0 : i64} : () -> vector<1xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 1 : i64} : () -> vector<1xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%2) {axis = 1 : i64, k = 10 : i64, kind = "ArgKMin"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @knn(
// CHECK:         %[[NEGINF:.*]] = arith.constant dense<0xFF800000> : vector<8xf32>
// CHECK:         scf.for %{{.*}} iter_args(%[[V:.*]] = %{{.*}}, %[[I:.*]] = %{{.*}}, %[[T:.*]] = %{{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:           %[[D:.*]] = arith.mulf
// CHECK:           %[[BEATS:.*]] = arith.cmpf olt, %[[D]], %[[T]] : vector<8xf32>
// CHECK:           %[[ANY:.*]] = vector.reduction <or>, %[[BEATS]] : vector<8xi1> into i1
// CHECK:           %[[NEW:.*]]:3 = scf.if %[[ANY]] -> (vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             vector.bitcast %[[BEATS]] : vector<8xi1> to vector<1xi8>
// CHECK:             %[[H:.*]]:3 = scf.while (%{{.*}} = %{{.*}}, %{{.*}} = %[[V]], %{{.*}} = %[[I]]) : (i32, vector<8xf32>, vector<8xf32>)
// CHECK:               arith.cmpi ne
// CHECK:             } do {
// CHECK:             ^bb0(%{{.*}}: i32, %[[LV:.*]]: vector<8xf32>, %[[LI:.*]]: vector<8xf32>):
// CHECK:               math.cttz
// CHECK:               %[[X:.*]] = vector.extract %[[D]][%{{.*}}] : f32 from vector<8xf32>
// CHECK:               %[[XV:.*]] = vector.broadcast %[[X]] : f32 to vector<8xf32>
// CHECK:               %[[UP:.*]] = vector.shuffle %[[LV]], %[[NEGINF]] [8, 0, 1, 2, 3, 4, 5, 6]
// CHECK:               %[[DOWN:.*]] = arith.cmpf olt, %[[XV]], %[[UP]] : vector<8xf32>
// CHECK:               %[[HERE:.*]] = arith.cmpf olt, %[[XV]], %[[LV]] : vector<8xf32>
// CHECK:               %[[IN:.*]] = arith.select %[[HERE]], %[[XV]], %[[LV]]
// CHECK:               %[[OUT:.*]] = arith.select %[[DOWN]], %[[UP]], %[[IN]]
// CHECK-NOT:           arith.cmpf oeq
// CHECK:               scf.yield %{{.*}}, %[[OUT]], %{{.*}} : i32, vector<8xf32>, vector<8xf32>
// CHECK:             %[[KTH:.*]] = vector.shuffle %[[H]]#1, %[[H]]#1 [1, 1, 1, 1, 1, 1, 1, 1]
// CHECK:             scf.yield %[[H]]#1, %[[H]]#2, %[[KTH]]
// CHECK:           } else {
// CHECK-NEXT:        scf.yield %[[V]], %[[I]], %[[T]] : vector<8xf32>, vector<8xf32>, vector<8xf32>
// CHECK:           scf.yield %[[NEW]]#0, %[[NEW]]#1, %[[NEW]]#2
// CHECK:         %[[S0:.*]] = vector.extract %{{.*}}[0] : f32 from vector<8xf32>
// CHECK:         %[[S1:.*]] = vector.extract %{{.*}}[1] : f32 from vector<8xf32>
// CHECK:         scf.for %{{.*}} iter_args(%{{.*}} = %[[S0]], %{{.*}} = %[[S1]],
// CHECK:           arith.cmpf olt, %{{.*}}, %{{.*}} : f32
// CHECK:           scf.if

// K = 10 on 8 lanes: two vectors per list; slot 8 (lane 0 of the second) takes slot 7, the
// last lane of the first, and the threshold is slot 9 (lane 1 of the second).
// CHECK-LABEL: func.func @knn10(
// CHECK:         scf.for %{{.*}} iter_args(%[[A:.*]] = %{{.*}}, %[[B:.*]] = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             %[[H10:.*]]:5 = scf.while
// CHECK:             ^bb0(%{{.*}}: i32, %[[LA:.*]]: vector<8xf32>, %[[LB:.*]]: vector<8xf32>, %{{.*}}: vector<8xf32>, %{{.*}}: vector<8xf32>):
// CHECK:               vector.shuffle %[[LA]], %{{.*}} [8, 0, 1, 2, 3, 4, 5, 6]
// CHECK:               vector.shuffle %[[LB]], %[[LA]] [15, 0, 1, 2, 3, 4, 5, 6]
// CHECK:             vector.shuffle %[[H10]]#2, %[[H10]]#2 [1, 1, 1, 1, 1, 1, 1, 1]
