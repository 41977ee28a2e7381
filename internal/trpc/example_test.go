package trpc_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/nanopore/strangler/internal/trpc"
	"github.com/nanopore/strangler/internal/validate"
)

func ExampleParseURL() {
	req, _ := trpc.ParseURL("/nanopore.getAll,health/", "batch=1")
	fmt.Println(req.Names, req.Batch)
	single, _ := trpc.ParseURL("/nanopore.getAll,health", "batch=0")
	fmt.Printf("%q\n", single.Names)
	// Output:
	// [nanopore.getAll health] true
	// ["nanopore.getAll,health"]
}

func ExampleSplit() {
	req, _ := trpc.ParseURL("/a,b,c", "batch=1")
	inputs, _ := trpc.ExtractInputs(req, "POST", []byte(`{"0":{"x":1},"2":"id"}`))
	sub := trpc.Split(req, "POST", inputs, []int{0, 2})
	fmt.Println(sub.Path, sub.RawQuery, string(sub.Body))

	// Each side answers its part; join the entries back in request order.
	legacy, _ := trpc.ParseBatch([]byte(`[{"result":{"data":1}},{"result":{"data":3}}]`))
	service := []trpc.Entry{trpc.ErrorEntry(trpc.BadGateway, "service unavailable", "b")}
	all := []trpc.Entry{legacy[0], service[0], legacy[1]}
	fmt.Println(trpc.BatchStatus(all), string(trpc.Join(all)))
	// Output:
	// /api/trpc/a,c batch=1 {"0":{"x":1},"1":"id"}
	// 207 [{"result":{"data":1}},{"error":{"message":"service unavailable","code":-32603,"data":{"code":"BAD_GATEWAY","httpStatus":502,"path":"b"}}},{"result":{"data":3}}]
}

func ExampleRouter() {
	r, _ := trpc.NewRouter(trpc.Options{}, trpc.Procedure{
		Name:  "nanopore.delete",
		Kind:  trpc.Mutation,
		Input: validate.String().UUID(),
		Handler: func(_ context.Context, in trpc.Input) (any, error) {
			return nil, trpc.Errorf(trpc.NotFound, "Sample with ID '"+in.String()+"' not found")
		},
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, _ := srv.Client().Post(srv.URL+"/api/trpc/nanopore.delete", "application/json",
		stringsReader(`"00000000-0000-0000-0000-000000000000"`))
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output:
	// 404 {"error":{"message":"Sample with ID '00000000-0000-0000-0000-000000000000' not found","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"nanopore.delete"}}}
}
