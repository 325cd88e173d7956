// keir-tile-cpu's control block (the last argument, int64[2]): before each cache tile of a
// chunk, an atomic load of the stop flag control[0]; once it is set, the loop over the chunk's
// blocks gets an empty range (arith.select of its upper bound), so a cancelled call returns
// within one tile. The load sits in the tile loop, not in the vector loop over j. At the end of
// a chunk, one atomic add of its rows to control[1] (the progress the launcher reads).
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8},canonicalize,cse

module {
  func.func @gauss() attributes {keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 2, 2, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<2xf32>, vector<2xf32>) -> vector<1xf32>
    %3 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 2 : i64} : () -> vector<1xf32>
    %4 = "keir.mult"(%2, %3) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%4) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @gauss(
// CHECK-SAME:    %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %[[CTL:[a-z0-9]+]]: memref<2xi64>)
// CHECK-SAME:    \22control\22: true
// CHECK:         scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}})
// CHECK:           %[[B0:.*]] = arith.muli
// CHECK:           %[[B1:.*]] = arith.minui %{{.*}}, %[[M]] : index
// CHECK:           scf.for %{{.*}} = %c0 to %{{.*}} step %{{.*}} {
// CHECK:             %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[CTL]]
// CHECK:             %[[STOP:.*]] = llvm.load %{{.*}} atomic monotonic
// CHECK:             %[[SET:.*]] = arith.cmpi ne, %[[STOP]], %{{.*}} : i64
// CHECK:             %[[HI:.*]] = arith.select %[[SET]], %[[B0]], %[[B1]] : index
// CHECK:             scf.for %{{.*}} = %[[B0]] to %[[HI]] step %c1 {
// CHECK:               scf.for {{.*}} iter_args
// CHECK-NOT:             llvm.load
// CHECK-NOT:             atomic_rmw
// CHECK:                 scf.yield
// CHECK:           %[[ROWS:.*]] = arith.subi %[[B1]], %[[B0]] : index
// CHECK:           %[[DONE:.*]] = arith.index_cast %[[ROWS]] : index to i64
// CHECK-NEXT:      memref.atomic_rmw addi %[[DONE]], %[[CTL]][%c1]
// CHECK-NEXT:      scf.reduce
