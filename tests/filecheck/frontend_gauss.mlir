// The frontend builds one keir op per formula operation, variables once, the reduction last.
// RUN: keir compile "Sum_Reduction(Exp(-s*SqDist(x,y))*b, 0)" --aliases "x=Vi(3)" "y=Vj(3)" "b=Vj(1)" "s=Pm(1)" --emit keir

// CHECK-LABEL: func.func @keir_kernel()
// CHECK-SAME:    keir.arg_cats = array<i64: 0, 1, 1, 2>, keir.arg_dims = array<i64: 3, 3, 1, 1>
// CHECK:         %[[S:.*]] = "keir.var"() {cat = 2 : i64, dim = 1 : i64, pos = 3 : i64} : () -> vector<1xf32>
// CHECK-NEXT:    %[[NS:.*]] = "keir.minus"(%[[S]]) : (vector<1xf32>) -> vector<1xf32>
// CHECK-NEXT:    %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
// CHECK-NEXT:    %[[Y:.*]] = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
// CHECK-NEXT:    %[[D:.*]] = "keir.sqdist"(%[[X]], %[[Y]]) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
// CHECK-NEXT:    %[[M:.*]] = "keir.mult"(%[[NS]], %[[D]])
// CHECK-NEXT:    %[[E:.*]] = "keir.exp"(%[[M]])
// CHECK-NEXT:    %[[B:.*]] = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 2 : i64}
// CHECK-NEXT:    %[[F:.*]] = "keir.mult"(%[[E]], %[[B]])
// CHECK-NEXT:    "keir.reduction"(%[[F]]) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
// CHECK-NEXT:    return
